import StorageIO

/// A VHD image (fixed, dynamic or differencing) over a BlockIO store.
///
/// The whole BAT and batmap live in memory; sector bitmaps are cached as they are used.
/// Writes that allocate are ordered so that a crash at any instant leaves an image that
/// opens and checks clean: data first, then bitmaps, then BAT and batmap, with a flush
/// between each step, all deferred to `flush()` (see `VHDImage+Write.swift`).
/// Opened alone, a differencing disk reads its absent sectors as zeros: open it through
/// `ImageChain` to see its parent's data.
public final class VHDImage: ImageLayer {
    public let store: any BlockIO
    public internal(set) var footer: Footer
    /// Nil for fixed disks.
    public let header: DynamicDiskHeader?
    public internal(set) var isReadOnly: Bool

    var bat: BlockAllocationTable
    var batmap: Batmap?
    /// Problems found (and tolerated) at open, e.g. a stale trailing footer.
    public internal(set) var openFindings = CheckReport()

    // Write state: what must reach the disk at the next flush.
    var bitmaps: [Int: SectorBitmap] = [:]
    /// Bitmaps kept in memory (`VHDLimits.bitmapCacheCountMax`; tests lower it).
    var bitmapCacheLimit = VHDLimits.bitmapCacheCountMax
    var dirtyBitmaps: Set<Int> = []
    var dirtyBATSectors: Set<Int> = []
    var batmapDirty = false
    var footerDirty = false
    var backupFooterDirty = false
    var endOfHeaders: UInt64
    /// The byte after the last block: where the next block goes (after the alignment gap).
    var endOfData: UInt64

    init(store: any BlockIO, footer: Footer, header: DynamicDiskHeader?, bat: BlockAllocationTable,
         batmap: Batmap?, endOfHeaders: UInt64, endOfData: UInt64, readOnly: Bool) {
        self.store = store
        self.footer = footer
        self.header = header
        self.bat = bat
        self.batmap = batmap
        self.endOfHeaders = endOfHeaders
        self.endOfData = endOfData
        self.isReadOnly = readOnly
    }

    public var name: String { store.name }
    public var virtualSize: UInt64 { footer.currentSize }
    public var diskType: VHDDiskType { footer.diskType }
    public var layerStores: [any BlockIO] { [store] }
    public var layerUUID: VHDUUID? { footer.uuid }
    public var blockBytes: UInt64 { header.map { UInt64($0.blockSize) } ?? VHDLimits.blockBytesDefault }
    public var isHidden: Bool { footer.hidden != 0 }
    /// Blocks with a BAT entry (dynamic and differencing).
    public var allocatedBlockCount: Int { bat.entries.lazy.filter { $0 != BlockAllocationTable.unused }.count }
    var sectorsPerBlock: Int { Int(blockBytes / VHDLimits.sectorBytes) }

    /// Opens the VHD in `store`, validating every structure that reads depend on. A damaged
    /// image throws `VHDError`; tolerable findings (a stale trailing footer, a stale batmap)
    /// are kept in `openFindings` and fixed by the first flush of a writable image.
    public static func open(_ store: any BlockIO, readOnly: Bool = false) throws -> VHDImage {
        let readOnly = readOnly || store.capabilities.isReadOnly
        let probe = try VHDFooterProbe.run(store)
        let footer = try probe.chosen.get()
        var findings = CheckReport()
        let file = store.name, size = store.size
        if footer.diskType == .fixed {
            guard size >= footer.currentSize + UInt64(VHDLimits.footerBytes) else {
                throw VHDError(.truncated, file: file, offset: size, field: "footer.currentSize",
                               "a fixed disk of \(footer.currentSize) bytes needs a file of \(footer.currentSize + 512)")
            }
            return VHDImage(store: store, footer: footer, header: nil, bat: BlockAllocationTable(count: 0), batmap: nil,
                            endOfHeaders: 0, endOfData: footer.currentSize, readOnly: readOnly)
        }
        let headerEnd = footer.dataOffset + UInt64(VHDLimits.headerBytes)
        guard headerEnd <= size else {
            throw VHDError(.truncated, file: file, offset: footer.dataOffset, field: "header", "the file ends at \(size)")
        }
        let header = try DynamicDiskHeader.decode(try store.readBytes(count: VHDLimits.headerBytes, at: footer.dataOffset),
                                                  file: file, offset: footer.dataOffset, footer: footer)
        let entries = Int(header.maxTableEntries)
        let batBytes = BlockAllocationTable.bytes(entryCount: entries)
        guard header.tableOffset + batBytes <= size else {
            throw VHDError(.truncated, file: file, offset: header.tableOffset, field: "header.tableOffset",
                           "the BAT (\(batBytes) bytes) ends past the end of the file (\(size))")
        }
        let bat = BlockAllocationTable.decode(try store.readBytes(count: Int(batBytes), at: header.tableOffset), count: entries)
        let batmap = try loadBatmap(store, footer: footer, header: header, bat: bat, findings: &findings)
        let eoh = VHDLayout.endOfHeaders(footer: footer, header: header, batmap: batmap)
        let eod = try VHDLayout.validateBAT(bat, header: header, endOfHeaders: eoh,
                                            fileEnd: size - UInt64(VHDLimits.footerBytes), file: file)
        let image = VHDImage(store: store, footer: footer, header: header, bat: bat, batmap: batmap,
                             endOfHeaders: eoh, endOfData: eod, readOnly: readOnly)
        image.noteFooterState(probe, findings: &findings)
        image.openFindings = findings
        return image
    }

    /// Records how the on-disk footers differ from the chosen one, and schedules their rewrite.
    private func noteFooterState(_ probe: VHDFooterProbe, findings: inout CheckReport) {
        let file = store.name
        if let t = probe.trailingFooter {
            if t != footer {
                findings.add(.repairable, file, probe.trailingOffset, "footer", "the trailing footer differs from the backup at 0")
                footerDirty = true
            }
        } else {
            findings.add(.repairable, file, probe.trailingOffset, "footer", "the trailing footer is missing or damaged")
            footerDirty = true
        }
        if probe.backupFooter != footer {
            findings.add(.repairable, file, 0, "footer (backup)", "the backup footer at 0 is missing, damaged or stale")
            backupFooterDirty = true
        }
    }

    /// Reads the batmap when the creator writes one. A damaged map is dropped (all bits clear,
    /// which is always safe) and rewritten at the next flush of a writable image.
    private static func loadBatmap(_ store: any BlockIO, footer: Footer, header: DynamicDiskHeader,
                                   bat: BlockAllocationTable, findings: inout CheckReport) throws -> Batmap? {
        guard footer.hasBatmap || footer.mayHaveBatmap else { return nil }
        let file = store.name, entries = Int(header.maxTableEntries)
        let at = VHDLayout.batmapHeaderOffset(header: header)
        guard at + UInt64(VHDLimits.batmapHeaderBytes) <= store.size else {
            findings.add(.repairable, file, at, "batmap", "no room for a batmap header")
            return nil
        }
        let bytes = try store.readBytes(count: VHDLimits.batmapHeaderBytes, at: at)
        guard var map = try Batmap.decodeHeader(bytes, file: file, offset: at, entryCount: entries, fileSize: store.size) else {
            if footer.hasBatmap { findings.add(.repairable, file, at, "batmap.cookie", "no batmap header after the BAT") }
            return nil
        }
        map.bits = BitVector(bytes: try store.readBytes(count: map.mapBytes, at: map.mapOffset), count: entries)
        if map.checksum != map.computedChecksum(currentSize: footer.currentSize) {
            findings.add(.repairable, file, at + 24, "batmap.checksum", "does not match the map; the batmap is ignored")
            map.bits = BitVector(count: entries, byteCount: map.mapBytes)
            map.checksum = map.computedChecksum(currentSize: footer.currentSize)
            return map
        }
        for b in 0..<entries where map.bits.test(b) && !bat.isAllocated(b) {
            throw VHDError(.badField, file: file, offset: map.mapOffset + UInt64(b / 8), field: "batmap[\(b)]",
                           "marks unallocated block \(b) full")
        }
        return map
    }

    // MARK: Layer queries

    /// The block's data sector bitmap, from the cache or the disk.
    func bitmap(_ block: Int) throws -> SectorBitmap {
        if let cached = bitmaps[block] { return cached }
        guard let header else { preconditionFailure("bitmap of a fixed disk") }
        let bytes = try store.readBytes(count: Int(header.bitmapSectors * VHDLimits.sectorBytes),
                                        at: UInt64(bat[block]) * VHDLimits.sectorBytes)
        let map = SectorBitmap(bytes: bytes, count: sectorsPerBlock)
        try trimBitmapCache()
        // The read ran the loop: a nested turn may have loaded and changed it meanwhile.
        if let cached = bitmaps[block] { return cached }
        bitmaps[block] = map
        return map
    }

    /// Keeps the cache bounded: drops clean bitmaps, and writes dirty ones out when only
    /// dirty ones are left (a full metadata flush, so ordering still holds).
    func trimBitmapCache() throws {
        guard bitmaps.count >= bitmapCacheLimit else { return }
        if dirtyBitmaps.count >= bitmapCacheLimit / 2 { try flush() }
        for key in Array(bitmaps.keys) where !dirtyBitmaps.contains(key) { bitmaps[key] = nil }
    }

    func isBatmapFull(_ block: Int) -> Bool { batmap?.bits.test(block) ?? false }

    public func layerBlock(_ block: Int) throws -> LayerBlock {
        guard let header else {
            return .full(dataStart: HostOffset(UInt64(block) * blockBytes))
        }
        guard block < bat.count, bat.isAllocated(block) else { return .absent }
        let start = HostOffset(VHDLayout.dataStart(batEntry: bat[block], header: header))
        if isBatmapFull(block) { return .full(dataStart: start) }
        let map = try bitmap(block)
        return map.isFull ? .full(dataStart: start) : .partial(dataStart: start, bitmap: map)
    }

    /// The cheap part of `layerBlock`: allocation and batmap only, no bitmap I/O. Nil when
    /// the block is allocated but not known to be full.
    public func blockSummary(_ block: Int) -> LayerBlock? {
        guard let header else { return .full(dataStart: HostOffset(UInt64(block) * blockBytes)) }
        guard block < bat.count, bat.isAllocated(block) else { return .absent }
        if isBatmapFull(block) { return .full(dataStart: HostOffset(VHDLayout.dataStart(batEntry: bat[block], header: header))) }
        return nil
    }

    public func resolve(at offset: VirtualOffset, length: UInt64) throws -> [ReadExtent] {
        var out: [ReadExtent] = []
        try resolve(at: offset, length: length, into: &out)
        return out
    }

    public func resolve(at offset: VirtualOffset, length: UInt64, into out: inout [ReadExtent]) throws {
        try validateRange(offset, length)
        out.removeAll(keepingCapacity: true)
        var pos = offset.bytes
        let end = offset.bytes + length
        while pos < end {
            let block = Int(pos / blockBytes)
            let inBlock = pos % blockBytes
            let n = min(blockBytes - inBlock, end - pos)
            try appendBlockExtents(&out, block: block, from: inBlock, length: n, layer: 0, state: try layerBlock(block),
                                   blockBytes: blockBytes)
            pos += n
        }
    }

    /// Checks the image as it is on disk (unflushed changes are not seen).
    public func check() -> CheckReport { VHDCheck.run(store) }

    /// Checks the VHD in `store` without opening it: explains images that fail to open.
    public static func check(_ store: any BlockIO) -> CheckReport { VHDCheck.run(store) }
}
