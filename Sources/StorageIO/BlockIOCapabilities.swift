/// What a store can do and what it requires of requests.
public struct BlockIOCapabilities: Sendable, Equatable {
    /// Offsets, lengths and buffer addresses must be multiples of this (1: no constraint).
    public var alignment: Int
    /// The largest number of bytes one request may move.
    public var transferBytesMax: Int
    /// Discard releases space (hole punching, TRIM/UNMAP).
    public var canTrim: Bool
    /// A write can be made durable on its own (FUA), without a flush of everything.
    public var canFUA: Bool
    public var isReadOnly: Bool

    public init(alignment: Int, transferBytesMax: Int, canTrim: Bool, canFUA: Bool, isReadOnly: Bool) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        precondition(transferBytesMax >= alignment, "transferBytesMax below alignment")
        self.alignment = alignment
        self.transferBytesMax = transferBytesMax
        self.canTrim = canTrim
        self.canFUA = canFUA
        self.isReadOnly = isReadOnly
    }
}
