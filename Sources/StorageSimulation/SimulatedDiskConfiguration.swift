import StorageIO

extension SimulatedDisk {
    /// The shape of a simulated disk: what it is, apart from its contents and its faults.
    public struct Configuration: Sendable, Equatable {
        /// Names the disk in errors and traces.
        public var name: String
        /// Initial size in bytes; need not be a multiple of the sector size.
        public var size: UInt64
        /// The unit a crash keeps atomic: each sector survives whole, old or new.
        public var sectorSize: Int
        /// Offsets, lengths and buffer addresses must be multiples of this. The default 1 is a
        /// buffered file; 512 or 4096 reproduce the constraints of O_DIRECT.
        public var alignment: Int
        public var transferBytesMax: Int
        /// Discard is accepted (and zeroes the range); without it discard fails `.unsupported`.
        public var canTrim: Bool
        /// FUA writes are durable on completion. Without it the `fua` flag is ignored, as a
        /// device without FUA would: a caller that relies on it without checking loses data.
        public var canFUA: Bool
        public var isReadOnly: Bool
        /// `resize(to:)` works; without it it throws `.unsupported`.
        public var canResize: Bool
        /// Whether `crash()` may tear a multi-sector write (a per-sector mix) by default.
        public var tornWrites: Bool

        public init(name: String = "simulated-disk", size: UInt64, sectorSize: Int = 512, alignment: Int = 1,
                    transferBytesMax: Int = StorageLimits.fileTransferBytesMax, canTrim: Bool = true,
                    canFUA: Bool = true, isReadOnly: Bool = false, canResize: Bool = true, tornWrites: Bool = true) {
            precondition(sectorSize > 0 && sectorSize & (sectorSize - 1) == 0, "sector size must be a power of two")
            self.name = name
            self.size = size
            self.sectorSize = sectorSize
            self.alignment = alignment
            self.transferBytesMax = transferBytesMax
            self.canTrim = canTrim
            self.canFUA = canFUA
            self.isReadOnly = isReadOnly
            self.canResize = canResize
            self.tornWrites = tornWrites
        }

        var capabilities: BlockIOCapabilities {
            BlockIOCapabilities(alignment: alignment, transferBytesMax: transferBytesMax, canTrim: canTrim,
                                canFUA: canFUA, isReadOnly: isReadOnly)
        }
    }
}
