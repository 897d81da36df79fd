import Foundation
import Glibc

/// Where a command's output goes: standard output and error by default, buffers in tests.
public final class CLIOutput {
    public let writeOut: (String) -> Void
    public let writeErr: (String) -> Void
    /// True when standard error is a terminal (progress bars are drawn only then).
    public let errIsTerminal: Bool

    public init(writeOut: @escaping (String) -> Void, writeErr: @escaping (String) -> Void, errIsTerminal: Bool = false) {
        self.writeOut = writeOut
        self.writeErr = writeErr
        self.errIsTerminal = errIsTerminal
    }

    public static func standard() -> CLIOutput {
        CLIOutput(writeOut: { s in FileHandle.standardOutput.write(Data(s.utf8)) },
                  writeErr: { s in FileHandle.standardError.write(Data(s.utf8)) },
                  errIsTerminal: isatty(2) == 1)
    }

    public func line(_ text: String = "") { writeOut(text + "\n") }
    public func error(_ text: String) { writeErr(text + "\n") }

    /// Prints a JSON value (dictionaries with sorted keys, indented).
    public func json(_ value: Any) {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
        else { return }
        line(String(decoding: data, as: UTF8.self))
    }
}
