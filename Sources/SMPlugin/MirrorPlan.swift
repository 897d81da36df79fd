import SREngine
import XenAPI

/// The fields of a VDI that the plugin keeps equal in XAPI's record, as SM's
/// `VDI.in_sync_with_xenapi_record` compares them (location is the key, not a field).
struct MirroredFields: Equatable {
    /// The sm-config keys the SR owns; XAPI's other keys (`host_*`, `paused`...) are left alone.
    static let ownedSMConfigKeys = [SMConfigKey.vhdParent, SMConfigKey.vdiType]

    var virtualSize: UInt64
    var physicalUtilisation: UInt64
    var readOnly: Bool
    var managed: Bool
    var smConfig: [String: String]

    init(virtualSize: UInt64, physicalUtilisation: UInt64, readOnly: Bool, managed: Bool, smConfig: [String: String]) {
        self.virtualSize = virtualSize
        self.physicalUtilisation = physicalUtilisation
        self.readOnly = readOnly
        self.managed = managed
        self.smConfig = smConfig.filter { Self.ownedSMConfigKeys.contains($0.key) && !$0.value.isEmpty }
    }

    init(_ r: VDIRecord) {
        self.init(virtualSize: r.virtualSize, physicalUtilisation: r.physicalUtilisation, readOnly: r.readOnly,
                  managed: r.managed, smConfig: r.smConfig)
    }

    init(_ r: XAPIVDIRecord) {
        self.init(virtualSize: r.virtualSize, physicalUtilisation: r.physicalUtilisation, readOnly: r.readOnly,
                  managed: r.managed, smConfig: r.smConfig)
    }
}

/// One field of a XAPI record to set; an sm-config value of nil removes the key.
enum FieldChange: Equatable {
    case virtualSize(UInt64)
    case physicalUtilisation(UInt64)
    case readOnly(Bool)
    case managed(Bool)
    case smConfig(key: String, value: String?)
}

/// What XAPI is believed to hold for one VDI: its uuid, reference when known, and fields.
struct KnownVDI: Equatable {
    var uuid: String
    var ref: String?
    var location: String
    var fields: MirroredFields
}

/// One change to XAPI's database.
enum MirrorStep: Equatable {
    case introduce(VDIRecord)
    case forget(uuid: String, ref: String?)
    case update(uuid: String, ref: String?, changes: [FieldChange])
}

/// The calls that make XAPI's records match the SR's, decided without I/O: SM's
/// `ScanRecord` diff by location (new → introduce, gone → forget, changed → update), in
/// its order. The same diff serves a scan (known = XAPI's records) and a single command
/// (known = the SR's records before it ran, which XAPI was told about).
enum MirrorPlan {
    static func steps(known: [KnownVDI], now records: [VDIRecord]) -> [MirrorStep] {
        let present = visible(records)
        let knownByLocation = Dictionary(known.map { ($0.location, $0) }, uniquingKeysWith: { first, _ in first })
        let presentLocations = Set(present.map(\.location))
        let introduced = present.filter { knownByLocation[$0.location] == nil }
            .sorted { ($0.managed ? 0 : 1, $0.uuid) < ($1.managed ? 0 : 1, $1.uuid) }
        let gone = known.filter { !presentLocations.contains($0.location) }.sorted { $0.uuid < $1.uuid }
        var steps = introduced.map(MirrorStep.introduce)
        steps += gone.map { .forget(uuid: $0.uuid, ref: $0.ref) }
        for record in present.sorted(by: { $0.uuid < $1.uuid }) {
            guard let old = knownByLocation[record.location] else { continue }
            let changes = self.changes(from: old.fields, to: MirroredFields(record))
            if !changes.isEmpty { steps.append(.update(uuid: old.uuid, ref: old.ref, changes: changes)) }
        }
        return steps
    }

    /// The records XAPI should hold: a hidden leaf is garbage awaiting the collector, so
    /// it is dropped, as SM's scan drops it; hidden base copies stay (unmanaged).
    static func visible(_ records: [VDIRecord]) -> [VDIRecord] {
        let parents = Set(records.compactMap(\.parent))
        return records.filter { !$0.hidden || parents.contains($0.uuid) }
    }

    /// The fields to set to go from `old` to `new`, in SM's `_db_update` order; every field
    /// when `old` is nil (vdi_update re-sends the whole record).
    static func changes(from old: MirroredFields?, to new: MirroredFields) -> [FieldChange] {
        var changes: [FieldChange] = []
        if old?.virtualSize != new.virtualSize { changes.append(.virtualSize(new.virtualSize)) }
        if old?.physicalUtilisation != new.physicalUtilisation { changes.append(.physicalUtilisation(new.physicalUtilisation)) }
        if old?.readOnly != new.readOnly { changes.append(.readOnly(new.readOnly)) }
        if old?.managed != new.managed { changes.append(.managed(new.managed)) }
        for key in MirroredFields.ownedSMConfigKeys where old == nil || old?.smConfig[key] != new.smConfig[key] {
            changes.append(.smConfig(key: key, value: new.smConfig[key]))
        }
        return changes
    }
}
