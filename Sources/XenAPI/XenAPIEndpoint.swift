/// Where XAPI listens for XenAPI calls.
///
/// SM talks to the local xapi over its Unix socket (`XenAPI.xapi_local()`), which needs no
/// TLS and no credentials beyond the session XAPI handed to the plugin. A plain `http://`
/// endpoint serves tests and a toolstack reached over loopback; TLS is not spoken.
public enum XenAPIEndpoint: Equatable, Sendable, CustomStringConvertible {
    /// HTTP over a Unix stream socket.
    case unix(path: String)
    /// HTTP over TCP; `path` is the request target (`/` for XAPI).
    case tcp(host: String, port: UInt16, path: String)

    /// xapi's local socket, as SM reaches it.
    public static let xapiLocal = XenAPIEndpoint.unix(path: "/var/lib/xcp/xapi")

    /// The environment variable that overrides the endpoint (tests, operators).
    public static let environmentKey = "SM_XAPI_URL"

    /// sockaddr_un's sun_path holds 108 bytes, terminator included.
    static let unixPathBytesMax = 107

    /// Reads `unix:/path`, `unix:///path`, a bare absolute path, or `http://host[:port][/path]`
    /// (IPv6 hosts in brackets).
    public init(parsing text: String) throws(XenAPIError) {
        if text.hasPrefix("/") || text.hasPrefix("unix:") {
            var path = text.hasPrefix("unix:") ? String(text.dropFirst(5)) : text
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard path.hasPrefix("/") else { throw .badEndpoint(text, reason: "a unix socket needs an absolute path") }
            guard path.utf8.count <= Self.unixPathBytesMax else {
                throw .badEndpoint(text, reason: "a unix socket path holds at most \(Self.unixPathBytesMax) bytes")
            }
            self = .unix(path: path)
            return
        }
        guard text.hasPrefix("http://") else {
            throw .badEndpoint(text, reason: "expected unix:/path or http://host[:port][/path] (TLS is not spoken)")
        }
        let rest = text.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        let (host, port) = try Self.split(authority: authority, text: text)
        self = .tcp(host: host, port: port, path: path)
    }

    /// `host`, `host:port`, `[v6]`, `[v6]:port`.
    private static func split(authority: Substring, text: String) throws(XenAPIError) -> (String, UInt16) {
        var host = authority, portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .badEndpoint(text, reason: "unclosed '[' in the host") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw .badEndpoint(text, reason: "unexpected '\(after)' after the host")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty else { throw .badEndpoint(text, reason: "no host") }
        guard let portText else { return (String(host), 80) }
        guard let port = UInt16(portText), port > 0 else { throw .badEndpoint(text, reason: "bad port '\(portText)'") }
        return (String(host), port)
    }

    /// The endpoint `SM_XAPI_URL` names, else xapi's local socket.
    public static func fromEnvironment(_ environment: [String: String]) throws(XenAPIError) -> XenAPIEndpoint {
        guard let text = environment[environmentKey], !text.isEmpty else { return xapiLocal }
        return try XenAPIEndpoint(parsing: text)
    }

    /// The request target of the POST.
    var requestPath: String {
        switch self {
        case .unix: "/"
        case let .tcp(_, _, path): path
        }
    }

    /// The Host header: the TCP host, or a fixed name for a socket (HTTP/1.1 requires one).
    var hostHeader: String {
        switch self {
        case .unix: "localhost"
        case let .tcp(host, port, _): (host.contains(":") ? "[\(host)]" : host) + (port == 80 ? "" : ":\(port)")
        }
    }

    public var description: String {
        switch self {
        case let .unix(path): "unix:\(path)"
        case let .tcp(host, port, path): "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)"
        }
    }
}
