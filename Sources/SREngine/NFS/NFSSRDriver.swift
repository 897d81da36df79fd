import Glibc
import NFSStore

/// The NFS SR driver (SM type `nfs`), with XenServer's device-config: `server`,
/// `serverpath`, `nfsversion` (3 by default, or 4), `options` (`timeo`, `retrans` as the
/// soft mount takes them), and `nfsport` / `mountport` for servers on other ports.
public struct NFSSRDriver: SRDriver {
    public let typeName = "nfs"
    public let configuration = [
        (key: "server", description: "NFS server name or address"),
        (key: "serverpath", description: "exported directory that holds the SR (<serverpath>/<sr-uuid>/)"),
        (key: "nfsversion", description: "NFS version: 3 (default) or 4 (NFSv4.0)"),
        (key: "options", description: "mount options; timeo (deciseconds) and retrans bound every call (soft mount)"),
        (key: "nfsport", description: "NFS port when not 2049"),
        (key: "mountport", description: "MOUNT port (NFSv3) when the server has no portmapper"),
    ]
    /// Identifies this host in the SR lease (see `NFSHostIdentity`).
    public let hostID: String
    /// Where lock files live unless `SRContext.lockDirectory` says: SM's own, so the two exclude each other.
    static let defaultLockDirectory = "/var/lock/sm"

    public init(hostID: String = NFSHostIdentity.current()) { self.hostID = hostID }

    static func server(_ deviceConfig: [String: String]) throws -> NFSServer {
        do { return try NFSServer(deviceConfig: deviceConfig) } catch let e as NFSError {
            if case let .invalidConfig(key, _) = e, key == "server", (deviceConfig["server"] ?? "").isEmpty {
                throw SREngineError.configMissing(key: "server")
            }
            throw e
        }
    }

    static func serverPath(_ deviceConfig: [String: String]) throws -> String {
        guard let p = deviceConfig["serverpath"], !p.isEmpty else { throw SREngineError.configMissing(key: "serverpath") }
        let trimmed = p.count > 1 && p.hasSuffix("/") ? String(p.dropLast()) : p
        return trimmed.hasPrefix("/") ? trimmed : "/" + trimmed
    }

    static func connect(_ deviceConfig: [String: String]) throws -> (NFSServer, String, NFSConnection) {
        let server = try server(deviceConfig)
        let path = try serverPath(deviceConfig)
        return (server, path, try NFSConnection(server: server, root: path))
    }

    /// Without `serverpath`: the server's exports, thrown as `serverPathMissing` (XenServer
    /// answers with the `<nfs-exports>` list and ConfigServerPathMissing). With it: the SRs there.
    public func probe(_ deviceConfig: [String: String]) throws -> [String] {
        let server = try Self.server(deviceConfig)
        guard let p = deviceConfig["serverpath"], !p.isEmpty else {
            throw NFSSRError.serverPathMissing(server: server.host, exports: try NFSExports.list(server))
        }
        let (_, _, connection) = try Self.connect(deviceConfig)
        return try connection.listDirectory("/").filter {
            try UUIDText.isValid($0) && connection.status("/" + $0)?.isDirectory == true
        }
    }

    public func create(uuid: String, deviceConfig: [String: String], context: SRContext) throws -> any StorageRepository {
        let (server, path, connection) = try Self.connect(deviceConfig)
        if try connection.status("/" + uuid) != nil { throw SREngineError.srExists(uuid: uuid) }
        try connection.makeDirectory("/" + uuid, mode: 0o755, existingOK: false)
        return try NFSSR(uuid: uuid, server: server, serverPath: path, connection: connection, context: context, hostID: hostID)
    }

    public func open(uuid: String, deviceConfig: [String: String], context: SRContext) throws -> any StorageRepository {
        let (server, path, connection) = try Self.connect(deviceConfig)
        guard try connection.status("/" + uuid)?.isDirectory == true else { throw SREngineError.srNotFound(uuid: uuid) }
        return try NFSSR(uuid: uuid, server: server, serverPath: path, connection: connection, context: context, hostID: hostID)
    }

    public func destroy(_ repository: any StorageRepository) throws {
        guard let sr = repository as? NFSSR else { throw SREngineError.invalidArgument("not an NFS SR") }
        try sr.removeTree(sr.srPath)
        if let lockRoot = sr.context.lockDirectory {
            try? FileSystem.removeTree(lockRoot + "/" + sr.uuid)
        }
    }
}
