/// The block allocation table: for each block, the sector where it starts in the file
/// (its bitmap), or `unused`.
public struct BlockAllocationTable: Equatable, Sendable {
    public static let unused: UInt32 = 0xFFFF_FFFF
    /// Entries per 512-byte BAT sector: the unit we rewrite when one entry changes.
    public static let entriesPerSector = Int(VHDLimits.sectorBytes / 4)

    public var entries: [UInt32]

    public init(count: Int) { entries = [UInt32](repeating: BlockAllocationTable.unused, count: count) }

    public var count: Int { entries.count }

    /// Bytes the table occupies on disk, padded to whole sectors.
    public static func bytes(entryCount: Int) -> UInt64 { roundUp(UInt64(entryCount) * 4, to: VHDLimits.sectorBytes) }

    public subscript(block: Int) -> UInt32 {
        get { entries[block] }
        set { entries[block] = newValue }
    }

    public func isAllocated(_ block: Int) -> Bool { entries[block] != BlockAllocationTable.unused }

    /// The on-disk bytes of the whole table (unused padding entries are all ones too).
    public func encode() -> [UInt8] {
        var b = [UInt8](repeating: 0xFF, count: Int(BlockAllocationTable.bytes(entryCount: count)))
        for (i, e) in entries.enumerated() where e != BlockAllocationTable.unused { b.putBE32(e, at: 4 * i) }
        return b
    }

    /// The on-disk bytes of BAT sector `sector` (entries `sector*128 ..< +128`).
    func encodeSector(_ sector: Int) -> [UInt8] {
        var b = [UInt8](repeating: 0xFF, count: Int(VHDLimits.sectorBytes))
        let first = sector * BlockAllocationTable.entriesPerSector
        for i in first..<min(count, first + BlockAllocationTable.entriesPerSector) {
            b.putBE32(entries[i], at: 4 * (i - first))
        }
        return b
    }

    public static func decode(_ b: [UInt8], count: Int) -> BlockAllocationTable {
        precondition(b.count >= count * 4, "BAT buffer too short")
        var t = BlockAllocationTable(count: count)
        b.withUnsafeBytes { raw in
            for i in 0..<count { t.entries[i] = UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        }
        return t
    }
}
