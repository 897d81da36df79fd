/// What the SR remembers about one VDI, in XenServer's terms (the fields SM stores in
/// xapi's database with `VDI.db_introduce`), so front ends can print xe-style records.
public struct VDIRecord: Codable, Equatable, Sendable {
    public var uuid: String
    public var nameLabel: String
    public var nameDescription: String
    /// VDI.type: user, system, suspend, crashdump, ...
    public var type: String
    public var isASnapshot: Bool
    /// The uuid of the VDI this one is a snapshot of (empty when none).
    public var snapshotOf: String
    /// ISO 8601 UTC, e.g. 20260101T12:00:00Z as xapi prints it; empty when none.
    public var snapshotTime: String
    public var readOnly: Bool
    /// False for base copies: the toolstack must not show or attach them.
    public var managed: Bool
    /// The VHD's hidden flag: a base copy inside a snapshot tree.
    public var hidden: Bool
    public var virtualSize: UInt64
    /// Bytes the image occupies on disk (allocated blocks of a sparse file).
    public var physicalUtilisation: UInt64
    /// sm-config: `vhd-parent` (parent VDI uuid), `vdi_type` (vhd), ...
    public var smConfig: [String: String]

    public init(uuid: String, nameLabel: String = "", nameDescription: String = "", type: String = "user",
                isASnapshot: Bool = false, snapshotOf: String = "", snapshotTime: String = "",
                readOnly: Bool = false, managed: Bool = true, hidden: Bool = false,
                virtualSize: UInt64 = 0, physicalUtilisation: UInt64 = 0, smConfig: [String: String] = [:]) {
        self.uuid = uuid
        self.nameLabel = nameLabel
        self.nameDescription = nameDescription
        self.type = type
        self.isASnapshot = isASnapshot
        self.snapshotOf = snapshotOf
        self.snapshotTime = snapshotTime
        self.readOnly = readOnly
        self.managed = managed
        self.hidden = hidden
        self.virtualSize = virtualSize
        self.physicalUtilisation = physicalUtilisation
        self.smConfig = smConfig
    }

    /// The parent VDI in the VHD chain (sm-config `vhd-parent`), nil for a chain's base.
    public var parent: String? {
        get { smConfig[SMConfigKey.vhdParent].flatMap { $0.isEmpty ? nil : $0 } }
        set { smConfig[SMConfigKey.vhdParent] = newValue }
    }

    /// SM's VDI location on a file SR: the uuid (the file is `<uuid>.vhd`).
    public var location: String { uuid }

    enum CodingKeys: String, CodingKey {
        case uuid
        case nameLabel = "name-label"
        case nameDescription = "name-description"
        case type
        case isASnapshot = "is-a-snapshot"
        case snapshotOf = "snapshot-of"
        case snapshotTime = "snapshot-time"
        case readOnly = "read-only"
        case managed, hidden
        case virtualSize = "virtual-size"
        case physicalUtilisation = "physical-utilisation"
        case smConfig = "sm-config"
    }
}

/// sm-config keys the engine sets, as SM names them.
public enum SMConfigKey {
    public static let vhdParent = "vhd-parent"
    public static let vdiType = "vdi_type"
}

/// What the SR remembers about itself.
public struct SRRecord: Codable, Equatable, Sendable {
    public var uuid: String
    public var nameLabel: String
    public var nameDescription: String
    public var type: String
    public var contentType: String
    /// other-config: operator switches such as `gc=false` (see `GCConfigKey`).
    public var otherConfig: [String: String]

    public init(uuid: String, nameLabel: String, nameDescription: String = "", type: String, contentType: String = "user",
                otherConfig: [String: String] = [:]) {
        self.uuid = uuid
        self.nameLabel = nameLabel
        self.nameDescription = nameDescription
        self.type = type
        self.contentType = contentType
        self.otherConfig = otherConfig
    }

    /// Metadata written before other-config existed has none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        uuid = try c.decode(String.self, forKey: .uuid)
        nameLabel = try c.decode(String.self, forKey: .nameLabel)
        nameDescription = try c.decode(String.self, forKey: .nameDescription)
        type = try c.decode(String.self, forKey: .type)
        contentType = try c.decode(String.self, forKey: .contentType)
        otherConfig = try c.decodeIfPresent([String: String].self, forKey: .otherConfig) ?? [:]
    }

    enum CodingKeys: String, CodingKey {
        case uuid
        case nameLabel = "name-label"
        case nameDescription = "name-description"
        case type
        case contentType = "content-type"
        case otherConfig = "other-config"
    }
}
