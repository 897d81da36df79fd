import Glibc
import ImageFormats
import Logging
import NFSStore
import StorageIO

/// One attached NFS SR: `serverpath/<sr-uuid>/` on the server, as XenServer lays out an NFS
/// SR (so one made by XenServer is attachable), reached through libnfs without a mount.
///
/// Volumes open as `NFSFile`s on the caller's loop; the engine's state sits in
/// `<sr-uuid>/.sm/` on the server (checksummed metadata and journals, each replaced by
/// write-then-rename, which is atomic on NFS; the lease). Locks: the local fcntl lock (this
/// host's processes) plus the on-server lease for the SR lock (other hosts).
public final class NFSSR: StorageRepository {
    public let uuid: String
    public let typeName = "nfs"
    /// `<serverpath>/<sr-uuid>`, absolute on the server: image paths and parent locators are
    /// relative to it.
    public let directory: String
    let server: NFSServer
    let serverPath: String
    let context: SRContext
    let hostID: String
    /// The connection for namespace calls, and for volumes on the first loop that asks.
    let connection: NFSConnection
    /// Connections for volumes opened on other loops (a connection serves one loop).
    private var loopConnections: [ObjectIdentifier: NFSConnection] = [:]
    let lease: NFSLease
    static let logger = Logger(label: "sr.nfs")

    /// Paths below the connection's root (`serverpath`).
    var srPath: String { "/" + uuid }
    var privatePath: String { srPath + "/.sm" }
    var journalPath: String { privatePath + "/journal" }
    var metadataPath: String { privatePath + "/metadata" }

    init(uuid: String, server: NFSServer, serverPath: String, connection: NFSConnection, context: SRContext, hostID: String) throws {
        self.uuid = uuid
        self.server = server
        self.serverPath = serverPath
        self.directory = (serverPath == "/" ? "" : serverPath) + "/" + uuid
        self.connection = connection
        self.context = context
        self.hostID = hostID
        lease = NFSLease(connection: connection, path: "/\(uuid)/.sm/lease", hostID: hostID)
        try connection.makeDirectory(privatePath, mode: 0o700)
        try connection.makeDirectory(journalPath, mode: 0o700)
    }

    /// The nfs:// URL of a volume (what a data-path daemon opens).
    public func url(of volume: String) -> String { connection.url(volumePath(volume)) }
    public func dataPathLocation(of volume: String) -> String { url(of: volume) }

    func volumePath(_ volume: String) -> String { srPath + "/" + volume }

    public func volumeNames() throws -> [String] {
        try connection.listDirectory(srPath).filter { !$0.hasPrefix(".") }
    }

    public func path(of volume: String) -> String { directory + "/" + volume }

    private func connection(for loop: EventLoop) throws -> NFSConnection {
        if connection.canServe(loop) { return connection }
        if let c = loopConnections[ObjectIdentifier(loop)] { return c }
        let c = try NFSConnection(server: server, root: serverPath)
        loopConnections[ObjectIdentifier(loop)] = c
        return c
    }

    public func openVolume(_ volume: String, readOnly: Bool, on loop: EventLoop) throws -> any BlockIO {
        try connection(for: loop).openFile(volumePath(volume), readOnly: readOnly, on: loop)
    }

    public func createVolume(_ volume: String, on loop: EventLoop) throws -> any BlockIO {
        try connection(for: loop).openFile(volumePath(volume), readOnly: false, create: true, on: loop)
    }

    public func removeVolume(_ volume: String) throws { try connection.remove(volumePath(volume)) }

    public func renameVolume(_ from: String, to: String) throws {
        try connection.rename(volumePath(from), to: volumePath(to))
    }

    public func linkVolume(_ from: String, to: String) throws {
        try connection.link(volumePath(from), to: volumePath(to))
    }

    public func volumeUsage(_ volume: String) -> VolumeUsage? {
        do {
            return try connection.status(volumePath(volume)).map {
                VolumeUsage(size: $0.size, allocated: $0.allocated, identity: $0.inode)
            }
        } catch {
            Self.logger.error("stat \(url(of: volume)): \(error)")
            return nil
        }
    }

    /// NFS makes CREATE, RENAME, LINK and REMOVE durable before it answers them.
    public func syncNamespace() throws {}

    public var hasMetadata: Bool { (try? connection.status(metadataPath)) != nil }

    public func loadMetadata() throws -> SRMetadata {
        try MetadataStore.decode(try connection.readFile(metadataPath, limit: SRLimits.metadataBytesMax),
                                 path: connection.url(metadataPath))
    }

    public func saveMetadata(_ metadata: SRMetadata) throws {
        try checkLease("metadata")
        try connection.writeAtomically(metadataPath, try MetadataStore.encode(metadata), temporarySuffix: temporarySuffix)
    }

    public func journals() throws -> [(name: String, bytes: [UInt8])] {
        try connection.listDirectory(journalPath).filter { !$0.contains(".tmp.") }.map {
            ($0, try connection.readFile(journalPath + "/" + $0, limit: SRLimits.journalBytesMax))
        }
    }

    public func writeJournal(_ name: String, _ bytes: [UInt8]) throws {
        try checkLease("journal \(name)")
        try connection.writeAtomically(journalPath + "/" + name, bytes, temporarySuffix: temporarySuffix)
    }

    public func removeJournal(_ name: String) throws {
        try checkLease("journal \(name)")
        try connection.remove(journalPath + "/" + name)
    }

    /// Temporaries are named after the host and process, so two writers never share one.
    private var temporarySuffix: String { "\(hostID).\(getpid())" }

    /// The engine writes metadata only under the SR lock, which holds the lease: check it,
    /// and extend it for long operations.
    private func checkLease(_ what: String) throws {
        guard lease.isHeld else {
            throw SREngineError.lockFailed(path: connection.url(lease.path),
                                           detail: "\(what) written without the SR lease (the SR lock was not held)")
        }
        try lease.renewIfNeeded()
    }

    var lockRoot: String { context.lockDirectory ?? NFSSRDriver.defaultLockDirectory }

    public func srLock() -> LockFile { LockFile(path: "\(lockRoot)/\(uuid)/sr", companion: lease) }
    public func vdiLock(_ vdi: String) -> LockFile { LockFile(path: "\(lockRoot)/\(vdi)/vdi") }

    /// The server's figures (FSSTAT): a local statvfs probe would measure this host's disk.
    public func freeSpace() throws -> FreeSpace {
        let usage = try connection.spaceUsage(srPath)
        return FreeSpace(totalBytes: usage.total, freeBytes: usage.available)
    }

    /// Removes everything under the SR's directory, then the directory.
    func removeTree(_ path: String) throws {
        for name in try connection.listDirectory(path) {
            let child = path + "/" + name
            if try connection.status(child)?.isDirectory == true { try removeTree(child) } else { try connection.remove(child) }
        }
        try connection.removeDirectory(path)
    }
}
