/// The sectors that survive a crash: what the platters (or flash) of the simulated disk hold.
///
/// Sparse, because crash tests model large images of which they touch a few sectors; a sector
/// never written (or written with zeros) is absent and reads as zeros, like a hole.
struct DurableMedia: Equatable {
    let sectorSize: Int
    private(set) var sectors: [UInt64: [UInt8]] = [:]

    init(sectorSize: Int) {
        self.sectorSize = sectorSize
    }

    /// The sector's bytes, or nil when it holds only zeros.
    subscript(sector: UInt64) -> [UInt8]? {
        sectors[sector]
    }

    /// Stores a whole sector; all-zero sectors are dropped to keep the map sparse.
    mutating func store(_ bytes: [UInt8], at sector: UInt64) {
        precondition(bytes.count == sectorSize, "a sector of the wrong size")
        sectors[sector] = bytes.allSatisfy { $0 == 0 } ? nil : bytes
    }

    /// Forgets everything at and beyond byte `size`, zeroing the tail of a partial last sector.
    mutating func truncate(to size: UInt64) {
        let sectorSize = UInt64(sectorSize)
        let keptSectors = (size + sectorSize - 1) / sectorSize
        for sector in sectors.keys where sector >= keptSectors { sectors[sector] = nil }
        let tail = Int(size % sectorSize)
        if tail != 0, var last = sectors[keptSectors - 1] {
            for index in tail..<self.sectorSize { last[index] = 0 }
            store(last, at: keptSectors - 1)
        }
    }
}
