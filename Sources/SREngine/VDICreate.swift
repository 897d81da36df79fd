import ImageFormats
import StorageIO

/// What a new VDI is to be.
public struct VDISpec: Sendable {
    public var virtualSize: UInt64
    public var nameLabel: String
    public var nameDescription: String
    public var type: String
    public var readOnly: Bool
    public var smConfig: [String: String]

    public init(virtualSize: UInt64, nameLabel: String = "", nameDescription: String = "", type: String = "user",
                readOnly: Bool = false, smConfig: [String: String] = [:]) {
        self.virtualSize = virtualSize
        self.nameLabel = nameLabel
        self.nameDescription = nameDescription
        self.type = type
        self.readOnly = readOnly
        self.smConfig = smConfig
    }
}

extension AttachedSR {
    /// Creates an empty, thin VDI: the image holds metadata only until data is written.
    public func createVDI(_ spec: VDISpec, uuid: String = UUIDText.random()) throws -> VDIRecord {
        try Self.validateName(spec.nameLabel)
        try Self.validateName(spec.nameDescription)
        guard UUIDText.isValid(uuid) else { throw SREngineError.invalidArgument("'\(uuid)' is not a uuid") }
        let size = try Self.validatedSize(spec.virtualSize)
        return try withSRLock {
            let meta = try metadata()
            guard meta.vdis[uuid] == nil, repository.volumeUsage(VolumeName.image(uuid)) == nil else {
                throw SREngineError.vdiExists(uuid: uuid)
            }
            try ensureSpace(SpaceAccounting.emptyImageBytes(virtualSize: size), for: "VDI create")
            var smConfig = spec.smConfig
            smConfig[SMConfigKey.vdiType] = "vhd"
            smConfig[SMConfigKey.vhdParent] = nil
            var journal = Journal(kind: .create, vdi: uuid)
            journal.record = VDIRecord(uuid: uuid, nameLabel: spec.nameLabel, nameDescription: spec.nameDescription,
                                       type: spec.type, readOnly: spec.readOnly, virtualSize: size, smConfig: smConfig)
            try begin(journal)
            return try runCreate(journal)
        }
    }

    /// The steps of a create (also a new child of a read-only VDI): build the image under a
    /// temporary name, rename it into place (the commit), store the record, drop the journal.
    func runCreate(_ journal: Journal) throws -> VDIRecord {
        let vdi = journal.vdi
        try step("create.image")
        try buildImage(vdi, size: journal.record!.virtualSize, parent: journal.parent)
        try step("create.commit")
        try repository.renameVolume(VolumeName.partial(vdi), to: VolumeName.image(vdi))
        try repository.syncNamespace()
        return try finishCreate(journal)
    }

    /// After the commit: store the record, drop the journal.
    func finishCreate(_ journal: Journal) throws -> VDIRecord {
        try step("create.metadata")
        var record = journal.record!
        record.parent = journal.parent
        record.physicalUtilisation = utilisation(journal.vdi)
        try updateMetadata { $0.vdis[journal.vdi] = record }
        try finish(journal)
        kickBlankRefill()
        return record
    }

    /// Writes `<vdi>.vhd.partial`: an empty dynamic VHD, or a differencing one over `parent`;
    /// from a blank when the pool has one (O(1) in the size), else written out in full.
    func buildImage(_ vdi: String, size: UInt64, parent: String?, volume: String? = nil) throws {
        let name = volume ?? VolumeName.partial(vdi)
        var link: VHDCreate.ParentLink?
        if let parent {
            var parentFooter = try footer(of: VolumeName.image(parent))
            parentFooter.currentSize = size
            link = VHDCreate.link(childPath: repository.path(of: VolumeName.image(vdi)),
                                  parentPath: repository.path(of: VolumeName.image(parent)), parent: parentFooter)
        }
        let footer = try VHDCreate.newFooter(size: size, differencing: link != nil, file: repository.path(of: name))
        if try buildFromBlank(name, footer: footer, parent: link) { return }
        let store = try repository.createVolume(name, on: loop)
        defer { store.close() }
        if let link {
            try VHDCreate.differencing(on: store, link: link, uuid: footer.uuid)
        } else {
            try VHDCreate.dynamic(on: store, size: size, uuid: footer.uuid)
        }
    }

    /// Records an image already in the SR (`<uuid>.vhd`) as a VDI.
    public func introduceVDI(uuid: String, nameLabel: String = "", nameDescription: String = "",
                             type: String = "user", smConfig: [String: String] = [:]) throws -> VDIRecord {
        try Self.validateName(nameLabel)
        try Self.validateName(nameDescription)
        return try withSRLock {
            var meta = try metadata()
            guard meta.vdis[uuid] == nil else { throw SREngineError.vdiExists(uuid: uuid) }
            guard repository.volumeUsage(VolumeName.image(uuid)) != nil else { throw SREngineError.vdiNotFound(uuid: uuid) }
            var record = try adoptedRecord(uuid)
            record.nameLabel = nameLabel
            record.nameDescription = nameDescription
            record.type = type
            record.smConfig.merge(smConfig) { _, new in new }
            meta.vdis[uuid] = record
            try save(meta)
            return record
        }
    }

    /// A record built from the image alone (scan and introduce).
    func adoptedRecord(_ uuid: String) throws -> VDIRecord {
        let info = try imageInfo(VolumeName.image(uuid))
        var record = VDIRecord(uuid: uuid, nameLabel: info.hidden ? "base copy" : "", readOnly: info.hidden,
                               managed: !info.hidden, hidden: info.hidden, virtualSize: info.virtualSize,
                               physicalUtilisation: utilisation(uuid), smConfig: [SMConfigKey.vdiType: "vhd"])
        record.parent = info.parent
        return record
    }

    /// Re-reads a VDI's image (size, hidden flag, parent, space) into its record, as SM's
    /// vdi_update does after the toolstack changed something.
    public func updateVDI(_ uuid: String) throws -> VDIRecord {
        try withSRLock {
            var meta = try metadata()
            guard var record = meta.vdis[uuid] else { throw SREngineError.vdiNotFound(uuid: uuid) }
            guard repository.volumeUsage(VolumeName.image(uuid)) != nil else { throw SREngineError.vdiNotFound(uuid: uuid) }
            let info = try imageInfo(VolumeName.image(uuid))
            record.virtualSize = info.virtualSize
            record.hidden = info.hidden
            if info.hidden { record.managed = false }
            record.parent = info.parent
            record.physicalUtilisation = utilisation(uuid)
            meta.vdis[uuid] = record
            try save(meta)
            return record
        }
    }

    /// Changes a VDI's names (xe vdi-param-set).
    public func setVDI(_ uuid: String, nameLabel: String? = nil, nameDescription: String? = nil) throws -> VDIRecord {
        try nameLabel.map(Self.validateName)
        try nameDescription.map(Self.validateName)
        return try withSRLock {
            var meta = try metadata()
            guard var record = meta.vdis[uuid] else { throw SREngineError.vdiNotFound(uuid: uuid) }
            if let nameLabel { record.nameLabel = nameLabel }
            if let nameDescription { record.nameDescription = nameDescription }
            meta.vdis[uuid] = record
            try save(meta)
            return record
        }
    }
}
