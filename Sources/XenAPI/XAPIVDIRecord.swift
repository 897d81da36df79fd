import XMLRPC

/// The fields of a VDI record in XAPI's database that a driver keeps in step with storage.
public struct XAPIVDIRecord: Equatable, Sendable {
    public var ref: String
    public var uuid: String
    public var location: String
    public var virtualSize: UInt64
    public var physicalUtilisation: UInt64
    public var readOnly: Bool
    public var managed: Bool
    public var smConfig: [String: String]

    public init(ref: String, uuid: String, location: String, virtualSize: UInt64 = 0, physicalUtilisation: UInt64 = 0,
                readOnly: Bool = false, managed: Bool = true, smConfig: [String: String] = [:]) {
        self.ref = ref
        self.uuid = uuid
        self.location = location
        self.virtualSize = virtualSize
        self.physicalUtilisation = physicalUtilisation
        self.readOnly = readOnly
        self.managed = managed
        self.smConfig = smConfig
    }

    /// Reads one member of `get_all_records_where`'s answer; nil without uuid or location.
    /// Sizes arrive as strings (XenAPI's int64) but an int is accepted too.
    init?(ref: String, _ fields: XMLRPCValue) {
        guard let uuid = fields["uuid"]?.stringValue, let location = fields["location"]?.stringValue else { return nil }
        self.init(ref: ref, uuid: uuid, location: location,
                  virtualSize: Self.size(fields["virtual_size"]), physicalUtilisation: Self.size(fields["physical_utilisation"]),
                  readOnly: fields["read_only"] == .bool(true), managed: fields["managed"] != .bool(false),
                  smConfig: fields["sm_config"]?.stringDictionary ?? [:])
    }

    static func size(_ value: XMLRPCValue?) -> UInt64 {
        switch value {
        case let .string(text)?: UInt64(text) ?? 0
        case let .int(n)?: UInt64(max(0, n))
        default: 0
        }
    }
}
