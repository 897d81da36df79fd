/// What negotiation tells a client about one export: its name, size, flags and block sizes.
///
/// The data path fills it in from the backend it serves; negotiation only reads it.
public struct NBDExportDescription: Sendable, Equatable {
    public var name: String
    public var description: String
    public var size: UInt64
    /// What the export supports; `hasFlags` is added, and `sendDF` removed without structured
    /// replies, by the negotiation.
    public var flags: NBDTransmissionFlags
    /// Requests must be multiples of this (the backend's alignment): a power of two ≤ 64 KiB.
    public var minimumBlock: UInt32
    public var preferredBlock: UInt32
    public var maximumPayload: UInt32
    /// Offers the `base:allocation` metadata context.
    public var offersBaseAllocation: Bool

    public init(name: String, description: String = "", size: UInt64, flags: NBDTransmissionFlags,
                minimumBlock: UInt32 = 1, preferredBlock: UInt32 = UInt32(NBDLimits.preferredBlockBytes),
                maximumPayload: UInt32 = UInt32(NBDLimits.payloadBytesMax), offersBaseAllocation: Bool = true) {
        precondition(minimumBlock > 0 && minimumBlock & (minimumBlock - 1) == 0
                     && minimumBlock <= UInt32(NBDLimits.minimumBlockBytesMax),
                     "minimum block must be a power of two ≤ 64 KiB")
        precondition(preferredBlock >= max(minimumBlock, 512) && preferredBlock & (preferredBlock - 1) == 0,
                     "preferred block must be a power of two ≥ max(minimum, 512)")
        precondition(maximumPayload >= preferredBlock, "maximum payload below the preferred block")
        self.name = name
        self.description = description
        self.size = size
        self.flags = flags
        self.minimumBlock = minimumBlock
        self.preferredBlock = preferredBlock
        self.maximumPayload = maximumPayload
        self.offersBaseAllocation = offersBaseAllocation
    }

    public var isReadOnly: Bool { flags.contains(.readOnly) }
}

/// What the transmission phase needs from a finished negotiation.
public struct NBDSession: Sendable, Equatable {
    public var export: NBDExportDescription
    /// The flags as sent to the client (hasFlags set; DF only with structured replies).
    public var flags: NBDTransmissionFlags
    public var structuredReplies: Bool
    /// The id of `base:allocation` when the client selected it for this export.
    public var baseAllocationID: UInt32?

    public init(export: NBDExportDescription, flags: NBDTransmissionFlags, structuredReplies: Bool,
                baseAllocationID: UInt32?) {
        self.export = export
        self.flags = flags
        self.structuredReplies = structuredReplies
        self.baseAllocationID = baseAllocationID
    }
}
