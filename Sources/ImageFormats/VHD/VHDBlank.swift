import StorageIO

/// Preformatted empty VHDs ("blanks") that become any new image in a few small writes, so
/// that creating the image of a snapshot or clone costs the same for 1 GiB as for 2040 GiB.
///
/// A new image's cost is its BAT: every entry must read "unused" (0xFFFFFFFF, never a hole),
/// 4 MiB for 2040 GiB, written and made durable. A blank has that work done in advance: it
/// is an empty dynamic VHD of the largest size with its BAT region filled. `personalize`
/// then rewrites only the footers, the header (with `maxTableEntries` cut to what the new
/// size needs), a batmap header and the parent locators, and punches out the BAT entries it
/// no longer uses (unreferenced bytes: nothing reads them). XenServer's LVHD reserves VHD
/// metadata for the largest size on every volume for a similar reason.
///
/// Layout (sector offsets fixed, so a personalised image is a valid VHD to every reader):
/// footer copy, header, BAT of `reservedEntries`, batmap header, batmap (a hole until bits
/// are set), three locator slots, footer.
public enum VHDBlank {
    /// Enough entries for the largest image: 2040 GiB of 2 MiB blocks.
    public static let reservedEntries = Int(VHDLimits.sizeBytesMax / VHDLimits.blockBytesDefault)
    /// Room for each parent locator's payload: a sibling's relative path in UTF-16 is ~90 bytes.
    static let locatorSlotBytes: UInt64 = 1024

    static let batmapHeaderOffset = VHDLimits.tableOffset + BlockAllocationTable.bytes(entryCount: reservedEntries)
    static let mapOffset = batmapHeaderOffset + UInt64(VHDLimits.batmapHeaderBytes)
    static let locatorsOffset = roundUp(mapOffset + Batmap.sectors(entryCount: reservedEntries) * VHDLimits.sectorBytes, to: 4096)
    static let footerOffset = locatorsOffset + 3 * locatorSlotBytes
    /// The size of every blank, and how a blank is recognised.
    public static let fileBytes = footerOffset + UInt64(VHDLimits.footerBytes)

    /// Makes `store` a blank and makes it durable. Costs a 4 MiB write and a flush.
    public static func format(on store: any BlockIO) throws {
        let footer = Footer(diskType: .dynamic, size: VHDLimits.sizeBytesMax, uuid: .random(), timestamp: VHDCreate.now())
        let header = DynamicDiskHeader(tableOffset: VHDLimits.tableOffset, maxTableEntries: UInt32(reservedEntries),
                                       blockSize: UInt32(VHDLimits.blockBytesDefault))
        let batmap = Batmap(headerOffset: batmapHeaderOffset, entryCount: reservedEntries)
        let count = Int(mapOffset)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 4096)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        func put(_ bytes: [UInt8], _ at: UInt64) {
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[Int(at)...]).copyMemory(from: $0) }
        }
        put(footer.encode(), 0)
        put(header.encode(), VHDLimits.headerOffset)
        UnsafeMutableRawBufferPointer(rebasing: buffer[Int(VHDLimits.tableOffset)..<Int(batmapHeaderOffset)])
            .initializeMemory(as: UInt8.self, repeating: 0xFF)
        put(batmap.encodeHeader(currentSize: footer.currentSize), batmapHeaderOffset)
        try store.resize(to: 0)
        try store.resize(to: fileBytes)
        try store.writeFully(UnsafeRawBufferPointer(buffer), at: 0)
        try store.writeBytes(footer.encode(), at: footerOffset)
        try store.flush()
    }

    /// Turns the blank in `store` into the empty image `footer` describes: dynamic, or
    /// differencing over `parent`. Makes it durable before returning. Throws when `store` is
    /// not a blank or the parent's path does not fit a locator slot (then build the image
    /// the ordinary way).
    public static func personalize(_ store: any BlockIO, footer: Footer, parent: VHDCreate.ParentLink?) throws {
        guard store.size == fileBytes else {
            throw VHDError(.badField, file: store.name, offset: 0, field: "file size",
                           "\(store.size) bytes is not a blank's \(fileBytes)")
        }
        let entries = Int((footer.currentSize + VHDLimits.blockBytesDefault - 1) / VHDLimits.blockBytesDefault)
        guard entries <= reservedEntries, (footer.diskType == .differencing) == (parent != nil) else {
            throw VHDError(.sizeOutOfRange, file: store.name, offset: 48, field: "footer.currentSize",
                           "a blank holds up to \(reservedEntries) blocks, a dynamic or differencing image")
        }
        var header = DynamicDiskHeader(tableOffset: VHDLimits.tableOffset, maxTableEntries: UInt32(entries),
                                       blockSize: UInt32(VHDLimits.blockBytesDefault))
        var batmap = Batmap(headerOffset: VHDLimits.tableOffset + BlockAllocationTable.bytes(entryCount: entries),
                            entryCount: entries)
        batmap.mapOffset = mapOffset
        if let parent {
            guard let placed = VHDCreate.link(parent, into: &header, from: locatorsOffset, slotBytes: locatorSlotBytes) else {
                throw VHDError(.badField, file: store.name, offset: locatorsOffset, field: "parent locator",
                               "the parent path \(parent.relativePath) does not fit a blank's \(locatorSlotBytes)-byte slot")
            }
            for (at, data) in placed.payloads { try store.writeBytes(data, at: at) }
        }
        let footerBytes = footer.encode()
        try store.writeBytes(footerBytes + header.encode(), at: 0)
        try store.writeBytes(batmap.encodeHeader(currentSize: footer.currentSize), at: batmap.headerOffset)
        try store.writeBytes(footerBytes, at: footerOffset)
        try store.flush()
    }

    /// Gives back the BAT reserve an image made from a blank no longer uses (the entries
    /// past its table): nothing references those bytes. Not done by `personalize` because a
    /// hole punch costs milliseconds on a filesystem mounted with discard, on the snapshot's
    /// path; the background worker does it. True when the reserve is given back (now, or by
    /// an earlier call: the reserve is written 0xFF, a punched one reads zeros, so it is not
    /// punched twice); false when `store` is not a blank-born image or has no reserve left.
    @discardableResult
    public static func releaseUnusedTable(of store: any BlockIO) throws -> Bool {
        guard store.capabilities.canTrim, store.size >= fileBytes else { return false }
        let footer = try VHDImage.readFooter(store)
        guard footer.diskType != .fixed, footer.dataOffset == VHDLimits.headerOffset else { return false }
        let header = try DynamicDiskHeader.decode(try store.readBytes(count: VHDLimits.headerBytes, at: VHDLimits.headerOffset),
                                                  file: store.name, offset: VHDLimits.headerOffset, footer: footer)
        let entries = Int(header.maxTableEntries)
        guard header.tableOffset == VHDLimits.tableOffset, entries < reservedEntries else { return false }
        let mapHeaderAt = VHDLimits.tableOffset + BlockAllocationTable.bytes(entryCount: entries)
        let mapHeader = try store.readBytes(count: VHDLimits.batmapHeaderBytes, at: mapHeaderAt)
        guard mapHeader.slice(0, 8) == Batmap.cookie, mapHeader.be64(8) == mapOffset else { return false }
        let from = roundUp(mapHeaderAt + UInt64(VHDLimits.batmapHeaderBytes), to: 4096), to = batmapHeaderOffset / 4096 * 4096
        guard to > from else { return false }
        if try store.readBytes(count: 4096, at: from).allSatisfy({ $0 == 0 }) { return true }
        try store.discard(at: from, length: Int(to - from))
        return true
    }
}
