import XMLRPC

/// XenAPI's wire types for the fields SM writes: int64 travels as a decimal string, maps as
/// structs, references as strings, times as `dateTime.iso8601`.
public enum XenAPIWire {
    /// xapi's null reference.
    public static let nullRef = "OpaqueRef:NULL"
    /// What SM sends when a VDI has no snapshot time.
    public static let epoch = "19700101T00:00:00Z"

    public static func int64(_ n: UInt64) -> XMLRPCValue { .string(String(n)) }

    /// A string map with members sorted by key (a stable request for the same map).
    public static func map(_ m: [String: String]) -> XMLRPCValue {
        .structure(m.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
    }
}

/// The arguments of `VDI.db_introduce`, XenServer's full list in its order (SM's
/// `VDI._db_introduce`): the record a driver creates for a VDI it made.
public struct VDIIntroduction: Equatable, Sendable {
    public var uuid: String
    public var nameLabel = ""
    public var nameDescription = ""
    public var srRef: String
    public var type = "user"
    public var sharable = false
    public var readOnly = false
    public var otherConfig: [String: String] = [:]
    public var location: String
    public var xenstoreData: [String: String] = [:]
    public var smConfig: [String: String] = [:]
    public var managed = true
    public var virtualSize: UInt64 = 0
    public var physicalUtilisation: UInt64 = 0
    public var metadataOfPool = XenAPIWire.nullRef
    public var isASnapshot = false
    public var snapshotTime = XenAPIWire.epoch
    public var snapshotOf = XenAPIWire.nullRef
    public var cbtEnabled = false

    public init(uuid: String, srRef: String, location: String) {
        self.uuid = uuid
        self.srRef = srRef
        self.location = location
    }

    var params: [XMLRPCValue] {
        [.string(uuid), .string(nameLabel), .string(nameDescription), .string(srRef), .string(type), .bool(sharable),
         .bool(readOnly), XenAPIWire.map(otherConfig), .string(location), XenAPIWire.map(xenstoreData),
         XenAPIWire.map(smConfig), .bool(managed), XenAPIWire.int64(virtualSize), XenAPIWire.int64(physicalUtilisation),
         .string(metadataOfPool), .bool(isASnapshot), .dateTime(snapshotTime), .string(snapshotOf), .bool(cbtEnabled)]
    }
}

/// The VDI class: the calls SM's drivers make on the records of their VDIs.
extension XenAPIClient {
    public func vdiByUUID(_ uuid: String) throws(XenAPIError) -> String {
        try string("VDI.get_by_uuid", [.string(uuid)])
    }

    /// The uuid of the VDI `ref` names (vdi_compose passes the other VDI as a reference).
    public func vdiUUID(ofRef ref: String) throws(XenAPIError) -> String {
        try string("VDI.get_uuid", [.string(ref)])
    }

    /// Creates the record; its reference.
    public func vdiDBIntroduce(_ vdi: VDIIntroduction) throws(XenAPIError) -> String {
        try string("VDI.db_introduce", vdi.params)
    }

    /// Drops the record only (the storage is the driver's business).
    public func vdiDBForget(_ ref: String) throws(XenAPIError) {
        try call("VDI.db_forget", [.string(ref)])
    }

    public func vdiSetVirtualSize(_ ref: String, _ bytes: UInt64) throws(XenAPIError) {
        try call("VDI.set_virtual_size", [.string(ref), XenAPIWire.int64(bytes)])
    }

    public func vdiSetPhysicalUtilisation(_ ref: String, _ bytes: UInt64) throws(XenAPIError) {
        try call("VDI.set_physical_utilisation", [.string(ref), XenAPIWire.int64(bytes)])
    }

    public func vdiSetSMConfig(_ ref: String, _ config: [String: String]) throws(XenAPIError) {
        try call("VDI.set_sm_config", [.string(ref), XenAPIWire.map(config)])
    }

    public func vdiAddToSMConfig(_ ref: String, key: String, value: String) throws(XenAPIError) {
        try call("VDI.add_to_sm_config", [.string(ref), .string(key), .string(value)])
    }

    public func vdiRemoveFromSMConfig(_ ref: String, key: String) throws(XenAPIError) {
        try call("VDI.remove_from_sm_config", [.string(ref), .string(key)])
    }

    public func vdiSetManaged(_ ref: String, _ managed: Bool) throws(XenAPIError) {
        try call("VDI.set_managed", [.string(ref), .bool(managed)])
    }

    public func vdiSetReadOnly(_ ref: String, _ readOnly: Bool) throws(XenAPIError) {
        try call("VDI.set_read_only", [.string(ref), .bool(readOnly)])
    }

    public func vdiSetIsASnapshot(_ ref: String, _ isASnapshot: Bool) throws(XenAPIError) {
        try call("VDI.set_is_a_snapshot", [.string(ref), .bool(isASnapshot)])
    }

    public func vdiSetSnapshotOf(_ ref: String, _ of: String) throws(XenAPIError) {
        try call("VDI.set_snapshot_of", [.string(ref), .string(of)])
    }

    public func vdiSetSnapshotTime(_ ref: String, _ time: String) throws(XenAPIError) {
        try call("VDI.set_snapshot_time", [.string(ref), .dateTime(time)])
    }

    /// The SR's VDI records as XAPI holds them, keyed by reference (SM's
    /// `util.list_VDI_records_in_sr`, what a scan compares the storage with).
    public func vdiRecords(inSR srRef: String) throws(XenAPIError) -> [XAPIVDIRecord] {
        let method = "VDI.get_all_records_where"
        let value = try call(method, [.string("field \"SR\" = \"\(srRef)\"")])
        guard case let .structure(members) = value else {
            throw .malformedResponse(method: method, detail: "expected a struct of records, got \(value)")
        }
        var records: [XAPIVDIRecord] = []
        for (ref, fields) in members {
            guard let record = XAPIVDIRecord(ref: ref, fields) else {
                throw .malformedResponse(method: method, detail: "record \(ref) lacks uuid or location")
            }
            records.append(record)
        }
        return records
    }
}
