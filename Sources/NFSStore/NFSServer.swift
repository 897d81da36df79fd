/// The NFS protocol version to speak. libnfs 4.0 implements NFSv3 and NFSv4.0.
public enum NFSVersion: Int, Sendable, Equatable {
    case v3 = 3
    case v4 = 4
}

/// Where and how to reach an NFS server: XenServer's NFS SR device-config, minus the path.
///
/// `server`, `nfsversion` (3 by default; 4 or 4.0), `options` (mount options; `timeo` and
/// `retrans` are honoured), and `nfsport` / `mountport` for servers on other ports than
/// 2049 / the portmapper's answer. libnfs 4.0 takes the ports only from a URL, so every
/// mount goes through `url(_:)`.
public struct NFSServer: Sendable, Equatable {
    public var host: String
    public var version: NFSVersion
    public var nfsPort: Int?
    public var mountPort: Int?
    public var softMount: NFSSoftMount

    public init(host: String, version: NFSVersion = .v3, nfsPort: Int? = nil, mountPort: Int? = nil,
                softMount: NFSSoftMount = NFSSoftMount()) {
        self.host = host
        self.version = version
        self.nfsPort = nfsPort
        self.mountPort = mountPort
        self.softMount = softMount
    }

    /// Parses the device-config keys above; `server` is required.
    public init(deviceConfig: [String: String]) throws {
        guard let host = deviceConfig["server"], !host.isEmpty else {
            throw NFSError.invalidConfig(key: "server", detail: "required: the NFS server's name or address")
        }
        try Self.checkURLSafe(host, key: "server")
        self.init(host: host,
                  version: try Self.version(deviceConfig["nfsversion"]),
                  nfsPort: try Self.port(deviceConfig["nfsport"], key: "nfsport"),
                  mountPort: try Self.port(deviceConfig["mountport"], key: "mountport"),
                  softMount: try NFSSoftMount(options: deviceConfig["options"] ?? ""))
    }

    static func version(_ text: String?) throws -> NFSVersion {
        switch text ?? "" {
        case "", "3": return .v3
        case "4", "4.0": return .v4
        default:
            throw NFSError.invalidConfig(key: "nfsversion", detail: "'\(text!)' is not supported: use 3 or 4 (libnfs 4.0 speaks NFSv4.0 only)")
        }
    }

    static func port(_ text: String?, key: String) throws -> Int? {
        guard let text, !text.isEmpty else { return nil }
        guard let n = Int(text), (1...65535).contains(n) else {
            throw NFSError.invalidConfig(key: key, detail: "'\(text)' is not a port number (1-65535)")
        }
        return n
    }

    /// Paths and names travel inside a URL unescaped: refuse what would change its meaning.
    static func checkURLSafe(_ text: String, key: String) throws {
        if let bad = text.first(where: { "?&#%= \t\n".contains($0) }) {
            throw NFSError.invalidConfig(key: key, detail: "'\(text)' contains '\(bad)', which an NFS URL cannot carry")
        }
    }

    /// The libnfs URL of `path` (absolute on the server), with the version and ports.
    public func url(_ path: String) -> String {
        var query: [String] = []
        if version == .v4 { query.append("version=4") }
        if let nfsPort { query.append("nfsport=\(nfsPort)") }
        if let mountPort, version == .v3 { query.append("mountport=\(mountPort)") }
        let p = path.hasPrefix("/") ? path : "/" + path
        return "nfs://\(host)\(p)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// Parses `nfs://host/path?version=4&nfsport=N&mountport=M&timeo=T&retrans=R` (the form
    /// `url(_:)` makes, plus the soft-mount knobs) into a server and the path on it.
    public static func parse(url: String) throws -> (server: NFSServer, path: String) {
        guard url.hasPrefix("nfs://") else { throw NFSError.invalidConfig(key: "url", detail: "'\(url)' is not an nfs:// URL") }
        let rest = url.dropFirst("nfs://".count)
        let (location, query) = rest.firstIndex(of: "?").map { (rest[..<$0], rest[rest.index(after: $0)...]) } ?? (rest, "")
        guard let slash = location.firstIndex(of: "/"), slash != location.startIndex else {
            throw NFSError.invalidConfig(key: "url", detail: "'\(url)' names no server or no path")
        }
        var config = ["server": String(location[..<slash])]
        var options: [String] = []
        for item in query.split(separator: "&") {
            let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw NFSError.invalidConfig(key: "url", detail: "bad query item '\(item)' in \(url)") }
            switch kv[0] {
            case "version": config["nfsversion"] = kv[1]
            case "nfsport", "mountport": config[kv[0]] = kv[1]
            case "timeo", "retrans": options.append("\(kv[0])=\(kv[1])")
            default: throw NFSError.invalidConfig(key: "url", detail: "unknown parameter '\(kv[0])' in \(url)")
            }
        }
        config["options"] = options.joined(separator: ",")
        return (try NFSServer(deviceConfig: config), String(location[slash...]))
    }
}
