import StorageIO

/// Safe repairs: what a crash or an interrupted tool leaves behind and the format lets us
/// rebuild without guessing.
///
/// - A missing, damaged or stale trailing footer is rewritten from the backup at offset 0
///   (authoritative for dynamic and differencing disks) at the end of the data, and space
///   past it (a block a crash left unreferenced) is released.
/// - A damaged backup footer is rewritten from a valid trailing one.
/// - A damaged or stale batmap is rebuilt from the sector bitmaps (a bit per full block).
/// Anything else (a bad header, BAT entries past the end or overlapping) makes `open` throw,
/// and is not touched.
extension VHDImage {
    /// Repairs this (writable) image; returns what was fixed, one line each.
    @discardableResult
    public func repair() throws -> [String] {
        guard !isReadOnly else { throw DiskImageError.readOnly(image: name) }
        var fixed = openFindings.problems.filter { $0.severity == .repairable }.map(\.description)
        if openFindings.problems.contains(where: { $0.field.hasPrefix("batmap") }) || batmapStale() {
            try rebuildBatmap()
            if !fixed.contains(where: { $0.contains("batmap") }) { fixed.append("repairable: \(name) batmap: rebuilt from the bitmaps") }
        }
        try flush()
        openFindings = CheckReport()
        return fixed
    }

    /// Opens the VHD in `store` writable, repairs it, and closes it.
    @discardableResult
    public static func repair(_ store: any BlockIO) throws -> [String] {
        let image = try VHDImage.open(store)
        let fixed = try image.repair()
        try image.close()
        return fixed
    }

    /// A batmap bit set for a block whose bitmap is not full.
    private func batmapStale() -> Bool {
        guard let map = batmap else { return false }
        for b in 0..<bat.count where bat.isAllocated(b) && map.bits.test(b) {
            if let bitmap = try? bitmap(b), !bitmap.isFull { return true }
        }
        return false
    }

    /// Recomputes every batmap bit from the bitmaps; creates the batmap if the creator
    /// writes one but it was missing.
    func rebuildBatmap() throws {
        guard let header, footer.hasBatmap else { return }
        var map = batmap ?? Batmap(headerOffset: VHDLayout.batmapHeaderOffset(header: header), entryCount: bat.count)
        if batmap == nil, map.mapOffset + UInt64(map.mapBytes) > endOfHeaders {
            return  // no room reserved for a batmap: leave it absent (readers then use bitmaps)
        }
        map.bits = BitVector(count: bat.count, byteCount: map.mapBytes)
        for b in 0..<bat.count where bat.isAllocated(b) {
            if try bitmap(b).isFull { map.bits.set(b) }
        }
        batmap = map
        batmapDirty = true
    }
}
