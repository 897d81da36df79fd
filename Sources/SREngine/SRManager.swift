/// SR lifecycle over the drivers: probe, create, attach, introduce, destroy.
///
/// Which SRs a host knows (what `forget` drops) is the front end's business: the engine
/// works from a type and a device-config, as SM does.
public final class SRManager {
    public let options: EngineOptions
    public static let drivers: [String: any SRDriver] = ["file": LocalSRDriver(), "nfs": NFSSRDriver()]

    public init(options: EngineOptions = EngineOptions()) { self.options = options }

    public func driver(_ type: String) throws -> any SRDriver {
        guard let d = Self.drivers[type] else { throw SREngineError.unknownSRType(type) }
        return d
    }

    /// The uuids of the SRs found where `deviceConfig` points.
    public func probe(type: String, deviceConfig: [String: String]) throws -> [String] {
        try driver(type).probe(deviceConfig)
    }

    /// Makes a new, empty SR and attaches it.
    public func create(type: String, deviceConfig: [String: String], nameLabel: String,
                       nameDescription: String = "", uuid: String = UUIDText.random()) throws -> AttachedSR {
        guard UUIDText.isValid(uuid) else { throw SREngineError.invalidArgument("'\(uuid)' is not a uuid") }
        try AttachedSR.validateName(nameLabel)
        try AttachedSR.validateName(nameDescription)
        let repo = try driver(type).create(uuid: uuid, deviceConfig: deviceConfig, context: options.context)
        let sr = try AttachedSR(repository: repo, options: options, deviceConfig: deviceConfig)
        try sr.withSRLock {
            try repo.saveMetadata(SRMetadata(sr: SRRecord(uuid: uuid, nameLabel: nameLabel,
                                                          nameDescription: nameDescription, type: type)))
        }
        return sr
    }

    /// Opens an existing SR, finishing or undoing interrupted operations, and adopting the
    /// images of an SR this engine did not create (a XenServer file SR) into fresh metadata.
    public func attach(uuid: String, type: String, deviceConfig: [String: String]) throws -> AttachedSR {
        let repo = try driver(type).open(uuid: uuid, deviceConfig: deviceConfig, context: options.context)
        let sr = try AttachedSR(repository: repo, options: options, deviceConfig: deviceConfig)
        try sr.withSRLock { try sr.recover() }
        return sr
    }

    /// Destroys an attached SR: refused with `srNotEmpty` while it holds VDIs.
    public func destroy(_ sr: AttachedSR) throws {
        try sr.withSRLock {
            let meta = try sr.metadata()
            let images = try sr.repository.volumeNames().compactMap(VolumeName.vdi(of:))
            let vdis = Set(meta.vdis.keys).union(images).sorted()
            guard vdis.isEmpty else { throw SREngineError.srNotEmpty(uuid: sr.uuid, vdis: vdis) }
            try driver(sr.repository.typeName).destroy(sr.repository)
        }
    }
}
