import Glibc
import StorageIO

/// Creates VHD images the way XenServer's blktap lays them out, so its tools, qemu and
/// libvhdi all read them: creator "tap" 1.3 with a batmap, 2 MiB blocks, sizes rounded up
/// to 2 MiB within [2 MiB, 2040 GiB], and the metadata written in one I/O.
public enum VHDCreate {
    /// The size an image of `requested` bytes gets: rounded up to 2 MiB, within the limits.
    public static func roundedSize(_ requested: UInt64, file: String = "") throws -> UInt64 {
        guard requested <= VHDLimits.sizeBytesMax else {
            throw VHDError(.sizeOutOfRange, file: file, offset: 48, field: "footer.currentSize",
                           "\(requested) bytes exceeds the limit of \(VHDLimits.sizeBytesMax)")
        }
        return max(VHDLimits.sizeBytesMin, roundUp(requested, to: VHDLimits.sizeGranuleBytes))
    }

    /// Seconds since the VHD epoch, now.
    static func now() -> UInt32 { UInt32(clamping: Int64(time(nil)) - VHDLimits.epochUnixSeconds) }

    /// Makes `store` a fixed VHD: zeros (a sparse grow) and a footer. Returns the footer.
    @discardableResult
    public static func fixed(on store: any BlockIO, size: UInt64, uuid: VHDUUID = .random()) throws -> Footer {
        let size = try roundedSize(size, file: store.name)
        let footer = Footer(diskType: .fixed, size: size, uuid: uuid, timestamp: now())
        try store.resize(to: 0)
        try store.resize(to: size + UInt64(VHDLimits.footerBytes))
        try store.writeBytes(footer.encode(), at: size)
        try store.flush()
        return footer
    }

    /// Makes `store` an empty dynamic VHD of `size` bytes (rounded up to 2 MiB).
    @discardableResult
    public static func dynamic(on store: any BlockIO, size: UInt64, uuid: VHDUUID = .random()) throws -> Footer {
        try dynamic(on: store, size: size, uuid: uuid, blockBytes: VHDLimits.blockBytesDefault)
    }

    /// A dynamic VHD with another block size: for tests that need many small blocks.
    static func dynamic(on store: any BlockIO, size: UInt64, uuid: VHDUUID, blockBytes: UInt64) throws -> Footer {
        precondition(blockBytes >= VHDLimits.blockBytesMin && blockBytes <= VHDLimits.blockBytesMax
                     && blockBytes & (blockBytes - 1) == 0, "block size must be a power of two within the limits")
        let footer = try newFooter(size: size, differencing: false, uuid: uuid, file: store.name)
        try writeSparse(store, footer: footer, parent: nil, blockBytes: blockBytes)
        return footer
    }

    /// What a differencing disk records about its parent.
    public struct ParentLink: Sendable {
        public var uuid: VHDUUID
        /// Seconds since 2000-01-01 of the parent's modification time.
        public var timestamp: UInt32
        /// Path of the parent relative to the child's directory (`/`-separated).
        public var relativePath: String
        public var size: UInt64
    }

    /// Makes `store` (the file at `childPath`) an empty differencing VHD over the VHD at
    /// `parentPath`, whose footer is `parent`. Locators hold the path relative to the child.
    @discardableResult
    public static func differencing(on store: any BlockIO, childPath: String, parentPath: String,
                                    parent: Footer, uuid: VHDUUID = .random()) throws -> Footer {
        try differencing(on: store, link: link(childPath: childPath, parentPath: parentPath, parent: parent), uuid: uuid)
    }

    /// What a child at `childPath` records about the VHD at `parentPath` whose footer is `parent`.
    public static func link(childPath: String, parentPath: String, parent: Footer) -> ParentLink {
        var st = stat()
        let mtime = stat(parentPath, &st) == 0 ? Int64(st.st_mtim.tv_sec) : Int64(time(nil))
        return ParentLink(uuid: parent.uuid,
                          timestamp: UInt32(clamping: mtime - VHDLimits.epochUnixSeconds),
                          relativePath: PathText.relative(from: PathText.dirname(childPath), to: parentPath),
                          size: parent.currentSize)
    }

    /// The footer of a new empty image: dynamic, or differencing when it has a parent.
    public static func newFooter(size: UInt64, differencing: Bool, uuid: VHDUUID = .random(), file: String = "") throws -> Footer {
        Footer(diskType: differencing ? .differencing : .dynamic, size: try roundedSize(size, file: file),
               uuid: uuid, timestamp: now())
    }

    /// Makes `store` an empty differencing VHD with the given parent link.
    @discardableResult
    public static func differencing(on store: any BlockIO, link: ParentLink, uuid: VHDUUID = .random()) throws -> Footer {
        let footer = try newFooter(size: link.size, differencing: true, uuid: uuid, file: store.name)
        try writeSparse(store, footer: footer, parent: link)
        return footer
    }

    /// Lays out footer copy, header, BAT (all unused), batmap and locators, then the trailing
    /// footer, building them in one buffer so a 2 TiB image costs one or two writes.
    private static func writeSparse(_ store: any BlockIO, footer: Footer, parent: ParentLink?,
                                    blockBytes: UInt64 = VHDLimits.blockBytesDefault) throws {
        let entries = Int((footer.currentSize + blockBytes - 1) / blockBytes)
        var header = DynamicDiskHeader(tableOffset: VHDLimits.tableOffset, maxTableEntries: UInt32(entries),
                                       blockSize: UInt32(blockBytes))
        let batBytes = BlockAllocationTable.bytes(entryCount: entries)
        let batmap = Batmap(headerOffset: VHDLimits.tableOffset + batBytes, entryCount: entries)
        var end = batmap.mapOffset + UInt64(batmap.mapSectors) * VHDLimits.sectorBytes
        var payloads: [(UInt64, [UInt8])] = []
        if let parent {
            let placed = link(parent, into: &header, from: end, slotBytes: nil)!
            payloads = placed.payloads
            end = placed.end
        }
        let total = end + UInt64(VHDLimits.footerBytes)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(total), alignment: 4096)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        func put(_ bytes: [UInt8], _ at: UInt64) {
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[Int(at)...]).copyMemory(from: $0) }
        }
        let footerBytes = footer.encode()
        put(footerBytes, 0)
        put(header.encode(), VHDLimits.headerOffset)
        put(BlockAllocationTable(count: entries).encode(), VHDLimits.tableOffset)
        put(batmap.encodeHeader(currentSize: footer.currentSize), batmap.headerOffset)
        for (at, data) in payloads { put(data, at) }
        put(footerBytes, end)
        try store.resize(to: 0)
        try store.resize(to: total)
        try store.writeFully(UnsafeRawBufferPointer(buffer), at: 0)
        try store.flush()
    }

    /// Fills `header`'s parent fields and its three locators (MacX, W2ku, W2ru, as blktap
    /// writes them), whose payloads go one after another from `start`: each in `slotBytes`,
    /// or when nil in its own size rounded up to sectors. Nil when a payload exceeds its slot.
    static func link(_ parent: ParentLink, into header: inout DynamicDiskHeader, from start: UInt64,
                     slotBytes: UInt64?) -> (payloads: [(UInt64, [UInt8])], end: UInt64)? {
        header.parentUUID = parent.uuid
        header.parentTimestamp = parent.timestamp
        header.parentUnicodeName = Array(PathText.basename(parent.relativePath).utf16.prefix(VHDLimits.parentNameBytes / 2))
        var payloads: [(UInt64, [UInt8])] = []
        var end = start
        for (i, code) in [ParentLocator.codeMacX, ParentLocator.codeW2ku, ParentLocator.codeW2ru].enumerated() {
            let data = ParentLocator.encodePath(parent.relativePath, code: code)
            let space = slotBytes ?? max(VHDLimits.sectorBytes, roundUp(UInt64(data.count), to: VHDLimits.sectorBytes))
            guard UInt64(data.count) <= space else { return nil }
            header.locators[i] = ParentLocator(platformCode: code, dataSpace: UInt32(space),
                                               dataLength: UInt32(data.count), dataOffset: end)
            payloads.append((end, data))
            end += space
        }
        return (payloads, end)
    }
}
