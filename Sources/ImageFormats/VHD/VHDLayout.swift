/// Where a dynamic VHD's metadata ends and where its blocks may go: the arithmetic that
/// open, allocation and check must agree on.
enum VHDLayout {
    /// Sector of the data area of a block whose bitmap starts at `batEntry`.
    static func dataStart(batEntry: UInt32, header: DynamicDiskHeader) -> UInt64 {
        (UInt64(batEntry) + header.bitmapSectors) * VHDLimits.sectorBytes
    }

    /// The byte just past block `batEntry` (bitmap + data).
    static func blockEnd(batEntry: UInt32, header: DynamicDiskHeader) -> UInt64 {
        (UInt64(batEntry) + header.bitmapSectors + header.sectorsPerBlock) * VHDLimits.sectorBytes
    }

    /// The first sector a new block's bitmap may use at or after `next`, keeping the data
    /// area 4 KiB-aligned (blktap's gap rule: skip `(8 − (next + bitmap) % 8) % 8` sectors).
    static func alignedBlockStart(next: UInt64, header: DynamicDiskHeader) -> UInt64 {
        let a = VHDLimits.dataAlignmentSectors
        let gap = (a - (next + header.bitmapSectors) % a) % a
        return next + gap
    }

    /// The end of every metadata structure: header, BAT, batmap, parent locators.
    static func endOfHeaders(footer: Footer, header: DynamicDiskHeader, batmap: Batmap?) -> UInt64 {
        var end = footer.dataOffset + UInt64(VHDLimits.headerBytes)
        end = max(end, header.tableOffset + BlockAllocationTable.bytes(entryCount: Int(header.maxTableEntries)))
        if let m = batmap {
            end = max(end, m.headerOffset + UInt64(VHDLimits.batmapHeaderBytes))
            end = max(end, m.mapOffset + UInt64(m.mapSectors) * VHDLimits.sectorBytes)
        }
        for l in header.locators where !l.isEmpty {
            if let space = l.spaceBytes {
                let (e, o) = l.dataOffset.addingReportingOverflow(space)
                if !o { end = max(end, e) }
            }
        }
        return roundUp(end, to: VHDLimits.sectorBytes)
    }

    /// Where the batmap header would be (right after the BAT).
    static func batmapHeaderOffset(header: DynamicDiskHeader) -> UInt64 {
        header.tableOffset + BlockAllocationTable.bytes(entryCount: Int(header.maxTableEntries))
    }

    /// Validates every allocated BAT entry: after the metadata, inside the file, and not
    /// overlapping another block. Returns the end of the last block (or `endOfHeaders`).
    static func validateBAT(_ bat: BlockAllocationTable, header: DynamicDiskHeader, endOfHeaders: UInt64,
                            fileEnd: UInt64, file: String) throws -> UInt64 {
        var starts: [(sector: UInt32, block: Int)] = []
        starts.reserveCapacity(bat.count)
        for b in 0..<bat.count where bat.isAllocated(b) {
            let entry = bat[b]
            let at = header.tableOffset + UInt64(4 * b)
            if UInt64(entry) * VHDLimits.sectorBytes < endOfHeaders {
                throw VHDError(.batEntryInMetadata, file: file, offset: at, field: "bat[\(b)]",
                               "block at sector \(entry) overlaps the metadata (which ends at byte \(endOfHeaders))")
            }
            if blockEnd(batEntry: entry, header: header) > fileEnd {
                throw VHDError(.batEntryPastEnd, file: file, offset: at, field: "bat[\(b)]",
                               "block at sector \(entry) ends at byte \(blockEnd(batEntry: entry, header: header)), past \(fileEnd)")
            }
            starts.append((entry, b))
        }
        starts.sort { $0.sector < $1.sector }
        var end = endOfHeaders
        for i in starts.indices {
            if i > 0 {
                let prev = starts[i - 1]
                if blockEnd(batEntry: prev.sector, header: header) > UInt64(starts[i].sector) * VHDLimits.sectorBytes {
                    throw VHDError(.blocksOverlap, file: file, offset: header.tableOffset + UInt64(4 * starts[i].block),
                                   field: "bat[\(starts[i].block)]",
                                   "block at sector \(starts[i].sector) overlaps block \(prev.block) at sector \(prev.sector)")
                }
            }
            end = max(end, blockEnd(batEntry: starts[i].sector, header: header))
        }
        return end
    }
}
