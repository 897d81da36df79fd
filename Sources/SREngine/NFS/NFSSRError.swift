import NFSStore

/// What only the NFS SR reports.
public enum NFSSRError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A probe without `serverpath`: the server's exports. The SMAPIv1 plugin answers it as
    /// XenServer does (ConfigServerPathMissing, the `<nfs-exports>` document on stderr).
    case serverPathMissing(server: String, exports: [String])

    public var description: String {
        switch self {
        case let .serverPathMissing(server, exports):
            "device-config 'serverpath' is required; \(server) exports \(exports.isEmpty ? "nothing" : exports.joined(separator: ", "))"
        }
    }
}
