/// The volatile write cache: writes that completed but are not yet durable.
///
/// Kept per sector as a list of versions, oldest first, because a crash may leave any sector
/// at any of them (or at its durable bytes): the device may have written some cached sectors
/// back and not others. Each version is the whole sector as it read right after one write
/// completed, so a sector can only ever come back as something it once held.
struct WriteCache {
    /// One sector as a completed write left it.
    struct Version {
        /// The completion sequence number of the write that made it.
        let sequence: UInt64
        let bytes: [UInt8]
    }

    /// A completed, not yet durable write (or discard): what a crash resolves as a whole.
    struct PendingWrite {
        let sequence: UInt64
        /// The request number the trace uses for it.
        let requestID: UInt64
        let operation: String
        let offset: UInt64
        let length: Int
        /// The sectors the write touched, ascending.
        let sectors: Range<UInt64>
    }

    private(set) var versions: [UInt64: [Version]] = [:]
    /// Pending writes in completion order.
    private(set) var writes: [PendingWrite] = []
    /// The sequence number of the last completed write (0: none yet).
    private(set) var lastSequence: UInt64 = 0

    var isEmpty: Bool { writes.isEmpty && versions.isEmpty }

    /// The sector's newest cached bytes, or nil when the cache holds nothing for it.
    func newest(_ sector: UInt64) -> [UInt8]? {
        versions[sector]?.last?.bytes
    }

    /// Numbers the next completed write.
    mutating func nextSequence() -> UInt64 {
        lastSequence += 1
        return lastSequence
    }

    mutating func add(_ version: Version, at sector: UInt64) {
        versions[sector, default: []].append(version)
    }

    mutating func add(_ write: PendingWrite) {
        writes.append(write)
    }

    /// Forgets every cached version of `sector` (a FUA write made a newer one durable).
    mutating func forget(sector: UInt64) {
        versions[sector] = nil
    }

    /// Removes the writes with sequence <= `watermark`, handing each sector's newest removed
    /// version to `durable` (nil when dropping). Returns how many writes were removed.
    mutating func retire(through watermark: UInt64, durable: ((UInt64, [UInt8]) -> Void)?) -> Int {
        for (sector, list) in versions {
            guard let cut = list.lastIndex(where: { $0.sequence <= watermark }) else { continue }
            durable?(sector, list[cut].bytes)
            let rest = Array(list[(cut + 1)...])
            versions[sector] = rest.isEmpty ? nil : rest
        }
        let before = writes.count
        writes.removeAll { $0.sequence <= watermark }
        return before - writes.count
    }

    /// Forgets everything at and beyond byte `size`, zeroing the tail of a partial last sector.
    mutating func truncate(to size: UInt64, sectorSize: Int) {
        let width = UInt64(sectorSize)
        let keptSectors = (size + width - 1) / width
        for sector in versions.keys where sector >= keptSectors { versions[sector] = nil }
        let tail = Int(size % width)
        if tail != 0, let list = versions[keptSectors - 1] {
            versions[keptSectors - 1] = list.map { version in
                var bytes = version.bytes
                for index in tail..<sectorSize { bytes[index] = 0 }
                return Version(sequence: version.sequence, bytes: bytes)
            }
        }
    }

    /// Empties the cache (after a crash resolved it).
    mutating func removeAll() {
        versions = [:]
        writes = []
    }
}
