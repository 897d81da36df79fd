import Glibc

/// Operating errors of the NFS layer: each names the server, the path and what was asked.
public enum NFSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A device-config value or URL that cannot be used.
    case invalidConfig(key: String, detail: String)
    /// The export could not be mounted (server down, wrong path, refused).
    case mount(url: String, detail: String)
    /// A call failed with an errno from the server or the client library.
    case call(operation: String, url: String, errno: Int32, detail: String)
    /// The server did not answer within the soft-mount bound (timeo × (retrans + 1)).
    case timedOut(operation: String, url: String, seconds: Double, detail: String)

    public var description: String {
        switch self {
        case let .invalidConfig(key, detail): "NFS device-config '\(key)': \(detail)"
        case let .mount(url, detail): "cannot mount \(url): \(detail)"
        case let .call(op, url, code, detail):
            "\(op) \(url) failed: \(String(cString: strerror(code))) (errno \(code))\(detail.isEmpty ? "" : ": \(detail)")"
        case let .timedOut(op, url, seconds, detail):
            "\(op) \(url): the NFS server did not answer within \(Self.format(seconds)) s (soft mount: timeo × (retrans + 1))"
                + (detail.isEmpty ? "" : "; last error: \(detail)")
        }
    }

    /// The errno a caller would report.
    public var errno: Int32 {
        switch self {
        case .invalidConfig: EINVAL
        case .mount: EHOSTDOWN
        case let .call(_, _, code, _): code
        case .timedOut: ETIMEDOUT
        }
    }

    static func format(_ seconds: Double) -> String {
        let tenths = (seconds * 10).rounded()
        return tenths.truncatingRemainder(dividingBy: 10) == 0 ? "\(Int(tenths / 10))" : "\(tenths / 10)"
    }
}
