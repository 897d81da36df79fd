import StorageIO

/// Writes, block allocation and flush: the crash-safe part of the VHD driver.
///
/// Ordering, with no flush per write: a write puts its data in place at once and changes
/// only in-memory metadata (a new block's BAT entry, bitmap bits, batmap bits). `flush()`
/// then makes them durable in dependency order, with a barrier between the steps:
///   1. flush: the data (and any file growth) is durable;
///   2. write changed bitmaps, flush: no bit is ever durable before its data;
///   3. write changed BAT sectors, the batmap, the footer(s), flush: no BAT entry or
///      batmap bit is ever durable before the bitmap it vouches for.
/// A crash before step 3 completes leaves at most an unreferenced block at the end of the
/// file (reused by the next allocation) and unflushed writes reading as their old data.
extension VHDImage {
    public func write(_ data: UnsafeRawBufferPointer, at offset: VirtualOffset) throws {
        guard !isReadOnly else { throw DiskImageError.readOnly(image: name) }
        try validateRange(offset, UInt64(data.count))
        guard let header else {
            try store.writeFully(data, at: offset.bytes)
            return
        }
        var done = 0
        while done < data.count {
            let pos = offset.bytes + UInt64(done)
            let block = Int(pos / blockBytes), inBlock = pos % blockBytes
            let n = Int(min(blockBytes - inBlock, UInt64(data.count - done)))
            if !bat.isAllocated(block) {
                try allocateBlock(block, header: header, keeping: inBlock..<(inBlock + UInt64(n)))
            }
            let dataStart = VHDLayout.dataStart(batEntry: bat[block], header: header)
            try store.writeFully(UnsafeRawBufferPointer(rebasing: data[done..<(done + n)]), at: dataStart + inBlock)
            try markPresent(block, sectors: Int(inBlock / VHDLimits.sectorBytes)..<Int((inBlock + UInt64(n)) / VHDLimits.sectorBytes))
            done += n
        }
    }

    /// Places `block` at the end of the data (after the 4 KiB alignment gap), growing the
    /// file with zeros. Space below the old end of file may hold leftovers of a block that a
    /// crash left unreferenced: that part of the data area, outside `keeping`, is zeroed so
    /// that readers ignoring bitmaps (qemu) still see zeros there.
    func allocateBlock(_ block: Int, header: DynamicDiskHeader, keeping: Range<UInt64>) throws {
        // Trim first: a flush from the trim must see no half-made allocation (it rewrites
        // the footer at the end of the data and would cut off a grown file).
        try trimBitmapCache()
        let start = VHDLayout.alignedBlockStart(next: endOfData / VHDLimits.sectorBytes, header: header)
        guard start < VHDLimits.hostSectorLimit else {
            throw VHDError(.hostSpaceExhausted, file: name, offset: header.tableOffset + UInt64(4 * block),
                           field: "bat[\(block)]", "a block at sector \(start) is beyond the reach of 32-bit BAT entries")
        }
        let entry = UInt32(start)
        let dataStart = VHDLayout.dataStart(batEntry: entry, header: header)
        let blockEnd = VHDLayout.blockEnd(batEntry: entry, header: header)
        let oldSize = store.size
        let needed = blockEnd + UInt64(VHDLimits.footerBytes)
        if needed > oldSize {
            try store.resize(to: needed)
            footerDirty = true
        }
        if oldSize > dataStart {
            let staleEnd = min(oldSize, blockEnd) - dataStart
            if keeping.lowerBound > 0 { try store.writeZeros(count: min(keeping.lowerBound, staleEnd), at: dataStart) }
            if keeping.upperBound < staleEnd {
                try store.writeZeros(count: staleEnd - keeping.upperBound, at: dataStart + keeping.upperBound)
            }
        }
        bat[block] = entry
        dirtyBATSectors.insert(block / BlockAllocationTable.entriesPerSector)
        bitmaps[block] = SectorBitmap(count: sectorsPerBlock, byteCount: Int(header.bitmapSectors * VHDLimits.sectorBytes))
        dirtyBitmaps.insert(block)
        endOfData = blockEnd
    }

    /// Sets the bitmap bits of `sectors` in memory; the batmap bit too once the block is full.
    func markPresent(_ block: Int, sectors: Range<Int>) throws {
        if isBatmapFull(block) { return }
        var map = try bitmap(block)
        guard map.set(sectors) else { return }
        let full = map.isFull
        bitmaps[block] = map
        dirtyBitmaps.insert(block)
        if full, batmap != nil {
            batmap!.bits.set(block)
            batmapDirty = true
        }
    }

    var metadataDirty: Bool {
        !dirtyBitmaps.isEmpty || !dirtyBATSectors.isEmpty || batmapDirty || footerDirty || backupFooterDirty
    }

    public func flush() throws {
        guard !isReadOnly else { return }
        try store.flush()
        guard metadataDirty else { return }
        guard let header else {  // fixed: only the footer can change (hidden flag)
            try writeFooters()
            try store.flush()
            return
        }
        // Each dirty set is taken (values captured, marks cleared) before its writes: the
        // writes run loop turns, and a turn that sets bits or allocates meanwhile marks them
        // dirty again for the next flush instead of having its marks cleared unwritten.
        let referencesChanged = !dirtyBATSectors.isEmpty || batmapDirty
        if !dirtyBitmaps.isEmpty {
            let taken = dirtyBitmaps.sorted()
            dirtyBitmaps.subtract(taken)
            try restoringMarks({ dirtyBitmaps.formUnion(taken) }) {
                try store.writeBatch(taken.map { (bitmaps[$0]!.bytes, UInt64(bat[$0]) * VHDLimits.sectorBytes) })
            }
            if referencesChanged { try store.flush() }
        }
        let sectors = dirtyBATSectors.sorted()
        dirtyBATSectors.subtract(sectors)
        try restoringMarks({ dirtyBATSectors.formUnion(sectors) }) {
            try store.writeBatch(sectors.map { (bat.encodeSector($0), header.tableOffset + UInt64($0) * VHDLimits.sectorBytes) })
        }
        if batmapDirty, let map = batmap {
            batmapDirty = false
            try restoringMarks({ batmapDirty = true }) {
                try store.writeBytes(map.bits.bytes, at: map.mapOffset)
                try store.writeBytes(map.encodeHeader(currentSize: footer.currentSize), at: map.headerOffset)
            }
        }
        try writeFooters()
        try store.flush()
    }

    /// Runs `writes`; if they fail, puts back the dirty marks taken for them.
    private func restoringMarks(_ restore: () -> Void, _ writes: () throws -> Void) throws {
        do { try writes() } catch {
            restore()
            throw error
        }
    }

    /// Rewrites the trailing footer at the end of the data (dropping anything past it, such
    /// as a block a crash left unreferenced) and the backup at 0 when it is stale.
    func writeFooters() throws {
        let bytes = footer.encode()
        if footerDirty {
            footerDirty = false
            let position = footer.diskType == .fixed ? footer.currentSize : endOfData
            try restoringMarks({ footerDirty = true }) {
                if store.size != position + UInt64(VHDLimits.footerBytes) {
                    try store.resize(to: position + UInt64(VHDLimits.footerBytes))
                }
                try store.writeBytes(bytes, at: position)
            }
        }
        if backupFooterDirty {
            backupFooterDirty = false
            if footer.diskType != .fixed { try restoringMarks({ backupFooterDirty = true }) { try store.writeBytes(bytes, at: 0) } }
        }
    }

    /// Sets blktap's hidden flag in both footers (durable at the next flush).
    public func setHidden(_ hidden: Bool) throws {
        guard !isReadOnly else { throw DiskImageError.readOnly(image: name) }
        footer.hidden = hidden ? 1 : 0
        footerDirty = true
        backupFooterDirty = true
    }

    public func close() throws {
        defer { store.close() }
        if !isReadOnly && !store.isClosed { try flush() }
    }
}
