/// The CHS geometry a VHD footer carries, computed as the VHD specification prescribes.
///
/// Old tools size a disk from C·H·S, so it must never exceed the real size: the algorithm
/// rounds down. `vhd-util check` rejects a footer geometry above `Geometry(forSize:)`.
public struct Geometry: Equatable, Sendable, CustomStringConvertible {
    public var cylinders: UInt16
    public var heads: UInt8
    public var sectorsPerTrack: UInt8

    public init(cylinders: UInt16, heads: UInt8, sectorsPerTrack: UInt8) {
        self.cylinders = cylinders
        self.heads = heads
        self.sectorsPerTrack = sectorsPerTrack
    }

    public init(encoded: UInt32) {
        self.init(cylinders: UInt16(encoded >> 16), heads: UInt8(truncatingIfNeeded: encoded >> 8),
                  sectorsPerTrack: UInt8(truncatingIfNeeded: encoded))
    }

    /// The largest geometry, which qemu writes to mean "size is `currentSize`, not C·H·S".
    public static let sizeMarker = Geometry(cylinders: 65535, heads: 16, sectorsPerTrack: 255)

    /// `(c << 16) | (h << 8) | s`, the footer's u32.
    public var encoded: UInt32 { UInt32(cylinders) << 16 | UInt32(heads) << 8 | UInt32(sectorsPerTrack) }

    /// The specification's CHS for a disk of `bytes`.
    public init(forSize bytes: UInt64) {
        let capacityMax: UInt64 = 65535 * 16 * 255
        var sectors = max(1, (bytes + 511) / 512)
        sectors = min(sectors, capacityMax)
        var spt: UInt64, heads: UInt64, cylinderTimesHeads: UInt64
        if sectors >= 65535 * 16 * 63 {
            spt = 255; heads = 16; cylinderTimesHeads = sectors / spt
        } else {
            spt = 17
            cylinderTimesHeads = sectors / spt
            heads = max(4, (cylinderTimesHeads + 1023) / 1024)
            if cylinderTimesHeads >= heads * 1024 || heads > 16 {
                spt = 31; heads = 16; cylinderTimesHeads = sectors / spt
            }
            if cylinderTimesHeads >= heads * 1024 {
                spt = 63; heads = 16; cylinderTimesHeads = sectors / spt
            }
        }
        self.init(cylinders: UInt16(cylinderTimesHeads / heads), heads: UInt8(heads), sectorsPerTrack: UInt8(spt))
    }

    /// Bytes addressed by this geometry.
    public var capacityBytes: UInt64 { UInt64(cylinders) * UInt64(heads) * UInt64(sectorsPerTrack) * 512 }

    public var description: String { "\(cylinders)/\(heads)/\(sectorsPerTrack)" }
}
