/// The 1024-byte header of dynamic and differencing disks: where the BAT is, how large
/// blocks are, and (differencing) who the parent is.
public struct DynamicDiskHeader: Equatable, Sendable {
    public static let cookie = Array("cxsparse".utf8)
    static let checksumField = 36..<40

    /// Always all ones: libvhd rejects anything else, and Microsoft tools expect 64 bits.
    public var dataOffset: UInt64 = UInt64.max
    /// Absolute offset of the BAT.
    public var tableOffset: UInt64
    public var headerVersion: UInt32 = VHDLimits.headerVersion
    public var maxTableEntries: UInt32
    public var blockSize: UInt32
    public var parentUUID: VHDUUID = .null
    /// Seconds since 2000-01-01 of the parent's modification (libvhd: the file's mtime).
    public var parentTimestamp: UInt32 = 0
    public var reserved1: UInt32 = 0
    /// The parent's file name, stored as UTF-16BE without a byte order mark.
    public var parentUnicodeName: [UInt16] = []
    public var locators: [ParentLocator] = Array(repeating: .empty, count: VHDLimits.locatorCount)
    public var reserved2IsZero = true

    public init(tableOffset: UInt64, maxTableEntries: UInt32, blockSize: UInt32) {
        self.tableOffset = tableOffset
        self.maxTableEntries = maxTableEntries
        self.blockSize = blockSize
    }

    public var parentName: String { String(decoding: parentUnicodeName, as: UTF16.self) }

    /// Sectors per block, and sectors of the bitmap in front of each block.
    public var sectorsPerBlock: UInt64 { UInt64(blockSize) / VHDLimits.sectorBytes }
    public var bitmapSectors: UInt64 { roundUp(sectorsPerBlock / 8, to: VHDLimits.sectorBytes) / VHDLimits.sectorBytes }

    public func encode() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: VHDLimits.headerBytes)
        b.putBytes(DynamicDiskHeader.cookie, at: 0)
        b.putBE64(dataOffset, at: 8)
        b.putBE64(tableOffset, at: 16)
        b.putBE32(headerVersion, at: 24)
        b.putBE32(maxTableEntries, at: 28)
        b.putBE32(blockSize, at: 32)
        b.putBytes(parentUUID.bytes, at: 40)
        b.putBE32(parentTimestamp, at: 56)
        b.putBE32(reserved1, at: 60)
        for (i, unit) in parentUnicodeName.prefix(VHDLimits.parentNameBytes / 2).enumerated() {
            b[64 + 2 * i] = UInt8(unit >> 8)
            b[65 + 2 * i] = UInt8(truncatingIfNeeded: unit)
        }
        for (i, l) in locators.enumerated() { l.encode(into: &b, at: 576 + ParentLocator.entryBytes * i) }
        b.putBE32(vhdChecksum(b, skipping: DynamicDiskHeader.checksumField), at: 36)
        return b
    }

    /// Decodes and validates the header read from `file` at `offset`: everything the BAT
    /// and block arithmetic depend on is checked here, before any of it is used.
    public static func decode(_ b: [UInt8], file: String, offset: UInt64, footer: Footer) throws -> DynamicDiskHeader {
        func fail(_ kind: VHDError.Kind, _ at: Int, _ field: String, _ detail: String) -> VHDError {
            VHDError(kind, file: file, offset: offset + UInt64(at), field: field, detail)
        }
        guard b.count == VHDLimits.headerBytes else { throw fail(.truncated, 0, "header", "need 1024 bytes, have \(b.count)") }
        guard b.slice(0, 8) == cookie else { throw fail(.badCookie, 0, "header.cookie", "expected \"cxsparse\"") }
        let stored = b.be32(36), computed = vhdChecksum(b, skipping: checksumField)
        guard stored == computed else {
            throw fail(.badChecksum, 36, "header.checksum",
                       "stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))")
        }
        guard b.be32(24) == VHDLimits.headerVersion else {
            throw fail(.unsupported, 24, "header.headerVersion", "0x\(String(b.be32(24), radix: 16))")
        }
        let blockSize = b.be32(32)
        guard blockSize != 0, blockSize & (blockSize - 1) == 0 else {
            throw fail(.badField, 32, "header.blockSize", "\(blockSize) is not a power of two")
        }
        guard UInt64(blockSize) <= VHDLimits.blockBytesMax else {
            throw fail(.unsupported, 32, "header.blockSize", "\(blockSize) exceeds \(VHDLimits.blockBytesMax)")
        }
        guard UInt64(blockSize) >= VHDLimits.blockBytesMin else {
            throw fail(.unsupported, 32, "header.blockSize", "\(blockSize) is below \(VHDLimits.blockBytesMin)")
        }
        let entries = b.be32(28)
        let needed = (footer.currentSize + UInt64(blockSize) - 1) / UInt64(blockSize)
        guard UInt64(entries) >= needed else {
            throw fail(.badField, 28, "header.maxTableEntries", "\(entries) entries cannot cover \(footer.currentSize) bytes")
        }
        guard entries <= VHDLimits.batEntryCountMax else {
            throw fail(.sizeOutOfRange, 28, "header.maxTableEntries", "\(entries) exceeds \(VHDLimits.batEntryCountMax)")
        }
        let table = b.be64(16)
        guard table % VHDLimits.sectorBytes == 0, table >= VHDLimits.sectorBytes, table <= UInt64(UInt32.max) * 512 else {
            throw fail(.badField, 16, "header.tableOffset", "\(table) is not a sane sector offset")
        }
        var h = DynamicDiskHeader(tableOffset: table, maxTableEntries: entries, blockSize: blockSize)
        h.dataOffset = b.be64(8)
        guard h.dataOffset == UInt64.max else {
            throw fail(.badField, 8, "header.dataOffset", "must be all ones, found 0x\(String(h.dataOffset, radix: 16))")
        }
        h.parentUUID = VHDUUID(bytes: b.slice(40, 16))
        h.parentTimestamp = b.be32(56)
        h.reserved1 = b.be32(60)
        var units: [UInt16] = []
        for i in 0..<(VHDLimits.parentNameBytes / 2) {
            let unit = b.be16(64 + 2 * i)
            if unit == 0 { break }
            units.append(unit)
        }
        h.parentUnicodeName = units
        h.locators = (0..<VHDLimits.locatorCount).map { ParentLocator.decode(b, at: 576 + ParentLocator.entryBytes * $0) }
        h.reserved2IsZero = b.allZero(from: 768, to: 1024)
        return h
    }

    /// The field rules check applies beyond what decoding enforces.
    func problems(file: String, offset: UInt64, diskType: VHDDiskType) -> CheckReport {
        var r = CheckReport()
        func bad(_ at: UInt64, _ field: String, _ detail: String) { r.add(.corruption, file, offset + at, field, detail) }
        if reserved1 != 0 { bad(60, "header.reserved1", "not zero") }
        if !reserved2IsZero { bad(768, "header.reserved2", "not zero") }
        if diskType == .dynamic {
            if !parentUUID.isNull { bad(40, "header.parentUUID", "a dynamic disk has no parent") }
            if parentTimestamp != 0 { bad(56, "header.parentTimestamp", "a dynamic disk has no parent") }
            if !parentUnicodeName.isEmpty { bad(64, "header.parentUnicodeName", "a dynamic disk has no parent") }
            if locators.contains(where: { !$0.isEmpty }) { bad(576, "header.parentLocators", "a dynamic disk has no parent") }
        } else if parentUnicodeName.isEmpty {
            bad(64, "header.parentUnicodeName", "a differencing disk needs its parent's name")
        }
        return r
    }
}
