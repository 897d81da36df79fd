import Glibc
import SMPlugin

// XAPI's SMAPIv1 driver entry point: installed as `<Name>SR` links in the SM directory.
// One methodResponse on stdout, detail on stderr, and always exit status 0 (XAPI treats any
// other status as a backend crash and discards the fault).
signal(SIGPIPE, SIG_IGN)
let outcome = PluginInvocation.run(arguments: CommandLine.arguments,
                                   environment: ProcessInfoEnvironment.current())
writeAll(2, outcome.diagnosticText)
writeAll(1, outcome.responseText)
exit(0)

/// Writes all of `text` to `fd`, retrying short writes; errors are ignored (nothing to tell).
func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        bytes = bytes.dropFirst(n)
    }
}

/// The process environment as a dictionary.
enum ProcessInfoEnvironment {
    static func current() -> [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            p += 1
        }
        return result
    }
}
