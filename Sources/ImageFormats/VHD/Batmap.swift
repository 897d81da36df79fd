/// blktap's batmap: one bit per block, set when the block is fully populated in this file,
/// so readers skip the sector bitmap and the parent. An optimisation only: a clear bit is
/// always safe, a wrongly set bit is corruption.
public struct Batmap: Equatable, Sendable {
    public static let cookie = Array("tdbatmap".utf8)
    static let checksumField = 24..<28

    /// Where the header sector is: right after the BAT.
    public var headerOffset: UInt64
    /// Where the bits are, and how many sectors they take.
    public var mapOffset: UInt64
    public var mapSectors: UInt32
    public var version: UInt32 = VHDLimits.batmapVersion
    public var checksum: UInt32 = 0
    /// The header sector as read (marker and keyhash live there; preserved on rewrite).
    public var headerBytes: [UInt8]
    public var bits: BitVector

    /// A fresh, empty batmap for `entryCount` blocks with its header at `headerOffset`.
    public init(headerOffset: UInt64, entryCount: Int) {
        self.headerOffset = headerOffset
        mapOffset = headerOffset + UInt64(VHDLimits.batmapHeaderBytes)
        let sectors = Batmap.sectors(entryCount: entryCount)
        mapSectors = UInt32(sectors)
        headerBytes = [UInt8](repeating: 0, count: VHDLimits.batmapHeaderBytes)
        bits = BitVector(count: entryCount, byteCount: Int(sectors * VHDLimits.sectorBytes))
    }

    /// Sectors of map for `entryCount` blocks (one bit each, at least one sector).
    static func sectors(entryCount: Int) -> UInt64 {
        max(1, roundUp(UInt64((entryCount + 7) / 8), to: VHDLimits.sectorBytes) / VHDLimits.sectorBytes)
    }

    /// Bytes of map the checksum covers, as libvhd computes it: `curr_size >> 24` bytes
    /// rounded up to whole sectors, at least one.
    static func checksumBytes(currentSize: UInt64, mapSectors: UInt32) -> Int {
        let sectors = max(1, roundUp(currentSize >> 24, to: VHDLimits.sectorBytes) / VHDLimits.sectorBytes)
        return Int(min(sectors, UInt64(mapSectors)) * VHDLimits.sectorBytes)
    }

    func computedChecksum(currentSize: UInt64) -> UInt32 {
        let n = Batmap.checksumBytes(currentSize: currentSize, mapSectors: mapSectors)
        return vhdChecksum(Array(bits.bytes.prefix(n)), skipping: nil)
    }

    /// The header sector with the map's checksum filled in.
    func encodeHeader(currentSize: UInt64) -> [UInt8] {
        var b = headerBytes
        b.putBytes(Batmap.cookie, at: 0)
        b.putBE64(mapOffset, at: 8)
        b.putBE32(mapSectors, at: 16)
        b.putBE32(version, at: 20)
        b.putBE32(computedChecksum(currentSize: currentSize), at: 24)
        return b
    }

    /// Decodes the header sector; nil when the cookie is absent (no batmap).
    static func decodeHeader(_ b: [UInt8], file: String, offset: UInt64, entryCount: Int, fileSize: UInt64) throws -> Batmap? {
        guard b.count == VHDLimits.batmapHeaderBytes, b.slice(0, 8) == cookie else { return nil }
        func fail(_ at: Int, _ field: String, _ detail: String) -> VHDError {
            VHDError(.badField, file: file, offset: offset + UInt64(at), field: field, detail)
        }
        var m = Batmap(headerOffset: offset, entryCount: entryCount)
        m.mapOffset = b.be64(8)
        m.mapSectors = b.be32(16)
        m.version = b.be32(20)
        m.checksum = b.be32(24)
        m.headerBytes = b
        guard m.version >> 16 == 1, m.version >= 0x0001_0002 else {
            throw VHDError(.unsupported, file: file, offset: offset + 20, field: "batmap.version", "0x\(String(m.version, radix: 16))")
        }
        guard m.mapOffset % VHDLimits.sectorBytes == 0, m.mapOffset >= offset + 512 else {
            throw fail(8, "batmap.offset", "\(m.mapOffset) is not a sector offset after the batmap header")
        }
        guard UInt64(m.mapSectors) >= Batmap.sectors(entryCount: entryCount), m.mapSectors <= VHDLimits.batEntryCountMax / 4096 + 1 else {
            throw fail(16, "batmap.size", "\(m.mapSectors) sectors do not fit \(entryCount) blocks")
        }
        let (end, overflow) = m.mapOffset.addingReportingOverflow(UInt64(m.mapSectors) * VHDLimits.sectorBytes)
        guard !overflow, end <= fileSize else {
            throw VHDError(.truncated, file: file, offset: offset + 8, field: "batmap.offset", "the map ends past the end of the file")
        }
        return m
    }

    public var mapBytes: Int { Int(mapSectors) * Int(VHDLimits.sectorBytes) }
}
