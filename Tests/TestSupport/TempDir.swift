import Foundation

/// A fresh directory under /tmp (short paths, so Unix sockets inside fit), removed with the value.
public final class TempDir: @unchecked Sendable {
    public let path: String

    public init(prefix: String = "smtest") {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { path + "/" + name }
}
