import Glibc
import ImageFormats
import StorageIO

/// The local SR driver (SM type `file`): `device-config:location=DIR`, with the SR in
/// `DIR/<sr-uuid>/` and each VDI in `DIR/<sr-uuid>/<vdi-uuid>.vhd`, exactly as XenServer's
/// file SR lays it out, so an existing file or NFS SR directory is readable here.
///
/// The engine's own state sits in `DIR/<sr-uuid>/.sm/` (metadata, journals, default locks),
/// which XenServer's tools ignore (they look only at `*.vhd`).
public struct LocalSRDriver: SRDriver {
    public let typeName = "file"
    public let configuration = [(key: "location", description: "local directory path that holds the SR")]

    public init() {}

    static func location(_ deviceConfig: [String: String]) throws -> String {
        guard let location = deviceConfig["location"], !location.isEmpty else {
            throw SREngineError.configMissing(key: "location")
        }
        return FileSystem.absolute(location)
    }

    public func probe(_ deviceConfig: [String: String]) throws -> [String] {
        let location = try Self.location(deviceConfig)
        guard FileSystem.isDirectory(location) else {
            throw SREngineError.configInvalid(key: "location", detail: "\(location) is not a directory")
        }
        return try FileSystem.listDirectory(location).filter {
            UUIDText.isValid($0) && FileSystem.isDirectory(location + "/" + $0)
        }
    }

    public func create(uuid: String, deviceConfig: [String: String], context: SRContext) throws -> any StorageRepository {
        let location = try Self.location(deviceConfig)
        try FileSystem.makeDirectories(location)
        let dir = location + "/" + uuid
        if FileSystem.exists(dir) { throw SREngineError.srExists(uuid: uuid) }
        try FileSystem.makeDirectory(dir, mode: 0o700)
        try FileSystem.syncDirectory(location)
        return try LocalSR(uuid: uuid, directory: dir, context: context)
    }

    public func open(uuid: String, deviceConfig: [String: String], context: SRContext) throws -> any StorageRepository {
        let location = try Self.location(deviceConfig)
        let dir = location + "/" + uuid
        guard FileSystem.isDirectory(dir) else { throw SREngineError.srNotFound(uuid: uuid) }
        return try LocalSR(uuid: uuid, directory: dir, context: context)
    }

    public func destroy(_ repository: any StorageRepository) throws {
        guard let sr = repository as? LocalSR else { throw SREngineError.invalidArgument("not a local SR") }
        try FileSystem.removeTree(sr.directory)
        if let lockRoot = sr.context.lockDirectory {
            try? FileSystem.removeTree(lockRoot + "/" + sr.uuid)
        }
        try FileSystem.syncDirectory(FileSystem.dirname(sr.directory))
    }
}

/// One attached local SR: a directory of image files.
public final class LocalSR: StorageRepository {
    public let uuid: String
    public let typeName = "file"
    public let directory: String
    let context: SRContext
    let privateDirectory: String
    let journalDirectory: String
    let metadataStore: MetadataStore

    init(uuid: String, directory: String, context: SRContext) throws {
        self.uuid = uuid
        self.directory = directory
        self.context = context
        privateDirectory = directory + "/.sm"
        journalDirectory = privateDirectory + "/journal"
        metadataStore = MetadataStore(path: privateDirectory + "/metadata")
        try FileSystem.makeDirectory(privateDirectory, mode: 0o700)
        try FileSystem.makeDirectory(journalDirectory, mode: 0o700)
    }

    public func volumeNames() throws -> [String] {
        try FileSystem.listDirectory(directory).filter { !$0.hasPrefix(".") }
    }

    public func path(of volume: String) -> String { directory + "/" + volume }

    public func openVolume(_ volume: String, readOnly: Bool, on loop: EventLoop) throws -> any BlockIO {
        try LocalFile.open(path(of: volume), on: loop, options: .init(readOnly: readOnly))
    }

    public func createVolume(_ volume: String, on loop: EventLoop) throws -> any BlockIO {
        try LocalFile.open(path(of: volume), on: loop, options: .init(create: true))
    }

    public func removeVolume(_ volume: String) throws { try FileSystem.remove(path(of: volume)) }

    public func renameVolume(_ from: String, to: String) throws { try FileSystem.rename(path(of: from), path(of: to)) }

    public func linkVolume(_ from: String, to: String) throws { try FileSystem.link(path(of: from), path(of: to)) }

    public func volumeUsage(_ volume: String) -> VolumeUsage? {
        FileSystem.usage(path(of: volume)).map { VolumeUsage(size: $0.size, allocated: $0.allocated, identity: $0.inode) }
    }

    public func syncNamespace() throws { try FileSystem.syncDirectory(directory) }

    public var hasMetadata: Bool { metadataStore.exists() }
    public func loadMetadata() throws -> SRMetadata { try metadataStore.load() }
    public func saveMetadata(_ metadata: SRMetadata) throws { try metadataStore.save(metadata) }

    public func journals() throws -> [(name: String, bytes: [UInt8])] {
        try FileSystem.listDirectory(journalDirectory).filter { !$0.contains(".tmp.") }.map {
            ($0, try FileSystem.readFile(journalDirectory + "/" + $0, limit: SRLimits.journalBytesMax))
        }
    }

    public func writeJournal(_ name: String, _ bytes: [UInt8]) throws {
        try FileSystem.writeAtomically(journalDirectory + "/" + name, bytes)
    }

    public func removeJournal(_ name: String) throws {
        try FileSystem.remove(journalDirectory + "/" + name)
        try FileSystem.syncDirectory(journalDirectory)
    }

    var lockRoot: String { context.lockDirectory ?? privateDirectory + "/lock" }

    public func srLock() -> LockFile { LockFile(path: "\(lockRoot)/\(uuid)/sr") }
    public func vdiLock(_ vdi: String) -> LockFile { LockFile(path: "\(lockRoot)/\(vdi)/vdi") }

    public func freeSpace() throws -> FreeSpace { try context.freeSpace.measure(directory) }
}
