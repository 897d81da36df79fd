import Foundation
import ImageFormats
import StorageIO

/// An attached SR and the VDI operations on it.
///
/// Every operation that changes the namespace or the metadata runs under the SR lock and
/// re-reads the metadata inside it (other processes change it); those on one VDI's data or
/// chain take that VDI's lock first (lock order: VDI locks, then the SR lock). Multi-step
/// operations write a `Journal` before their first step. An instance is confined to the
/// thread that made it (it owns an event loop).
public final class AttachedSR {
    public let repository: any StorageRepository
    public let options: EngineOptions
    /// The device-config the SR was attached with (the background worker attaches it again).
    public let deviceConfig: [String: String]
    let loop: EventLoop
    /// What the last recovery did, one line per action (empty when nothing was pending).
    public internal(set) var recoveryLog: [String] = []

    init(repository: any StorageRepository, options: EngineOptions, deviceConfig: [String: String]) throws {
        self.repository = repository
        self.options = options
        self.deviceConfig = deviceConfig
        loop = try EventLoop()
    }

    public var uuid: String { repository.uuid }

    /// Nothing stays open between operations; detach only drops this handle's resources.
    public func detach() {}

    // MARK: Locks

    func withSRLock<T>(_ body: () throws -> T) throws -> T {
        let lock = repository.srLock()
        guard try lock.acquire() else { throw SREngineError.lockFailed(path: lock.path, detail: "timed out") }
        defer { lock.release() }
        return try body()
    }

    func withVDILock<T>(_ vdi: String, _ body: () throws -> T) throws -> T {
        let lock = repository.vdiLock(vdi)
        guard try lock.acquire() else { throw SREngineError.vdiInUse(uuid: vdi) }
        defer { lock.release() }
        return try body()
    }

    // MARK: Metadata

    /// The current metadata (call under the SR lock to act on it).
    func metadata() throws -> SRMetadata {
        if repository.hasMetadata { return try repository.loadMetadata() }
        return SRMetadata(sr: SRRecord(uuid: uuid, nameLabel: "", type: repository.typeName))
    }

    func save(_ meta: SRMetadata) throws {
        var m = meta
        m.generation += 1
        try repository.saveMetadata(m)
    }

    /// Re-reads the metadata, applies `change`, saves.
    func updateMetadata(_ change: (inout SRMetadata) throws -> Void) throws {
        var meta = try metadata()
        try change(&meta)
        try save(meta)
    }

    static func validateName(_ name: String) throws {
        guard name.utf8.count <= SRLimits.nameBytesMax else {
            throw SREngineError.invalidArgument("a name of \(name.utf8.count) bytes exceeds \(SRLimits.nameBytesMax)")
        }
        // XenServer refuses characters XML cannot carry (IllegalXMLChar).
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" && $0 != "\n" && $0 != "\r" }) else {
            throw SREngineError.invalidArgument("names may not contain control characters")
        }
    }

    /// Rounds a requested size as SM does, or refuses it (VDISize).
    public static func validatedSize(_ requested: UInt64) throws -> UInt64 {
        guard requested <= SRLimits.vdiSizeMax else {
            throw SREngineError.vdiSize(requested: requested, detail: "the maximum is \(SRLimits.vdiSizeMax) bytes (2040 GiB)")
        }
        guard requested > 0 else { throw SREngineError.vdiSize(requested: requested, detail: "a VDI cannot be empty") }
        let granule = SRLimits.vdiSizeGranule
        return max(SRLimits.vdiSizeMin, (requested + granule - 1) / granule * granule)
    }

    func step(_ name: String) throws { try options.stepHook?(name) }

    /// Writes a journal durably before the operation's first step.
    func begin(_ journal: Journal) throws {
        try step("\(journal.kind.rawValue).journal")
        try repository.writeJournal(journal.name, try journal.encoded())
    }

    func finish(_ journal: Journal) throws {
        try step("\(journal.kind.rawValue).done")
        try repository.removeJournal(journal.name)
    }

    /// Allocated bytes of a VDI's image.
    func utilisation(_ vdi: String) -> UInt64 { repository.volumeUsage(VolumeName.image(vdi))?.allocated ?? 0 }

    static func timestamp(_ date: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HH:mm:ss'Z'"
        return f.string(from: date)
    }

    // MARK: Queries

    /// The SR's own record.
    public func srRecord() throws -> SRRecord { try withSRLock { try metadata().sr } }

    /// Every VDI record, sorted by uuid.
    public func vdis() throws -> [VDIRecord] {
        try withSRLock { try metadata().vdis.values.sorted { $0.uuid < $1.uuid } }
    }

    public func vdi(_ uuid: String) throws -> VDIRecord {
        guard let r = try withSRLock({ try metadata().vdis[uuid] }) else { throw SREngineError.vdiNotFound(uuid: uuid) }
        return r
    }

    /// Changes an SR's name-label or name-description.
    public func setSR(nameLabel: String? = nil, nameDescription: String? = nil) throws -> SRRecord {
        try nameLabel.map(Self.validateName)
        try nameDescription.map(Self.validateName)
        return try withSRLock {
            var meta = try metadata()
            if let nameLabel { meta.sr.nameLabel = nameLabel }
            if let nameDescription { meta.sr.nameDescription = nameDescription }
            try save(meta)
            return meta.sr
        }
    }
}
