import Glibc
import ImageFormats
import StorageIO

/// The SR seam: a namespace of volumes with SR metadata, journals and locks.
///
/// The engine's policy (snapshot trees, journals, space accounting) is written against this
/// protocol only; a driver (local directory now, NFS and iSCSI later) decides where volumes,
/// metadata and locks live. Volumes are named as on a XenServer file SR (`<vdi-uuid>.vhd`)
/// and image files link their parents by those names, relative to the namespace.
public protocol StorageRepository: AnyObject {
    var uuid: String { get }
    /// The SM type name, e.g. `file`.
    var typeName: String { get }
    /// The namespace's directory: VHD parent locators are relative to it.
    var directory: String { get }

    /// Volume names in the namespace, sorted (every file, temporaries included).
    func volumeNames() throws -> [String]
    /// The path a volume is opened by (image chains resolve parents from it).
    func path(of volume: String) -> String
    /// What a data-path daemon in another process opens a volume by: a local path, or a URL
    /// for storage reached in user space (`nfs://`). Defaults to `path(of:)`.
    func dataPathLocation(of volume: String) -> String
    /// Opens an existing volume as a BlockIO on `loop`.
    func openVolume(_ volume: String, readOnly: Bool, on loop: EventLoop) throws -> any BlockIO
    /// Creates (or truncates) a volume and opens it writable.
    func createVolume(_ volume: String, on loop: EventLoop) throws -> any BlockIO
    /// Removes a volume; a missing one is not an error (steps are idempotent).
    func removeVolume(_ volume: String) throws
    /// Atomically replaces `to` with `from`.
    func renameVolume(_ from: String, to: String) throws
    /// Makes `to` a second name of `from`'s content (a hard link: O(1), no copy).
    func linkVolume(_ from: String, to: String) throws
    /// Size, allocated bytes and identity of a volume; nil when it does not exist.
    func volumeUsage(_ volume: String) -> VolumeUsage?
    /// Makes creations, renames and removals in the namespace durable.
    func syncNamespace() throws

    /// True when the SR has metadata (it was created or introduced by this engine).
    var hasMetadata: Bool { get }
    func loadMetadata() throws -> SRMetadata
    /// Replaces the metadata atomically and durably.
    func saveMetadata(_ metadata: SRMetadata) throws

    /// Pending journals: name and checksummed content.
    func journals() throws -> [(name: String, bytes: [UInt8])]
    /// Writes a journal durably (atomic replace).
    func writeJournal(_ name: String, _ bytes: [UInt8]) throws
    func removeJournal(_ name: String) throws

    /// The SR lock: held for every operation that changes the namespace or the metadata.
    func srLock() -> LockFile
    /// A VDI's lock: held while its data is read or written, and by operations on it.
    func vdiLock(_ vdi: String) -> LockFile

    /// Size and free space of the storage under the SR.
    func freeSpace() throws -> FreeSpace
}

extension StorageRepository {
    public func dataPathLocation(of volume: String) -> String { path(of: volume) }

    /// Opens a volume's image chain through the repository, so parents are opened the way
    /// the SR's volumes are (local files, NFS files); a parent named outside the SR's
    /// directory reads as missing.
    public func openChain(_ volume: String, readOnly: Bool, on loop: EventLoop) throws -> ImageChain {
        try ImageChain.open(path(of: volume), readOnly: readOnly) { p, ro in
            let prefix = directory + "/"
            guard p.hasPrefix(prefix), !p.dropFirst(prefix.count).contains("/") else {
                throw BlockIOError.open(path: p, errno: ENOENT, detail: "not in SR directory \(directory)")
            }
            return try openVolume(String(p.dropFirst(prefix.count)), readOnly: ro, on: loop)
        }
    }
}

/// What a volume occupies.
public struct VolumeUsage: Sendable, Equatable {
    public var size: UInt64
    /// Bytes actually allocated (sparse files allocate only what was written).
    public var allocated: UInt64
    /// Identifies the content: two names of one hard-linked file share it.
    public var identity: UInt64
}

/// An SR type: how to find, make, open and remove SRs of that kind from device-config.
public protocol SRDriver: Sendable {
    /// The SM type name (`file`).
    var typeName: String { get }
    /// The device-config keys the driver understands, with a description each.
    var configuration: [(key: String, description: String)] { get }
    /// The uuids of SRs present at the place `deviceConfig` names.
    func probe(_ deviceConfig: [String: String]) throws -> [String]
    /// Makes the SR's namespace; it must not exist.
    func create(uuid: String, deviceConfig: [String: String], context: SRContext) throws -> any StorageRepository
    /// Opens an existing SR's namespace.
    func open(uuid: String, deviceConfig: [String: String], context: SRContext) throws -> any StorageRepository
    /// Removes the (empty) SR's namespace, metadata and locks.
    func destroy(_ repository: any StorageRepository) throws
}

/// Host-side settings every driver receives.
public struct SRContext: Sendable {
    /// Root of lock files; nil puts them under the SR (`<sr>/.sm/lock`). SM itself uses
    /// `/var/lock/sm` (then lock files are `<root>/<sr-uuid>/sr` and `<root>/<vdi-uuid>/vdi`).
    public var lockDirectory: String?
    public var freeSpace: FreeSpaceProbe

    public init(lockDirectory: String? = nil, freeSpace: FreeSpaceProbe = .statvfs) {
        self.lockDirectory = lockDirectory
        self.freeSpace = freeSpace
    }
}
