import StorageIO
import StorageSimulation
import Testing
import TestSupport

@testable import ImageFormats

/// Each on-disk structure encodes and decodes to itself, and decoding distrusts its input.
@Suite struct CodecTests {
    @Test func footerRoundTrip() throws {
        var f = Footer(diskType: .dynamic, size: 10 << 30, uuid: .random(), timestamp: 123_456)
        f.hidden = 1
        let bytes = f.encode()
        #expect(bytes.count == 512)
        #expect(Array(bytes[0..<8]) == Array("conectix".utf8))
        #expect(bytes.be32(28) == fourCC("tap\0") && bytes.be32(32) == 0x0001_0003 && bytes.be32(36) == 0)
        #expect(bytes[85] == 1)
        #expect(try Footer.decode(bytes, file: "f", offset: 0) == f)
        var bad = bytes
        bad[200] ^= 1
        #expect(throws: VHDError.self) { try Footer.decode(bad, file: "f", offset: 0) }
    }

    @Test func hiddenChecksumQuirkOfOldTap() throws {
        var f = Footer(diskType: .dynamic, size: 2 << 20, uuid: .random(), timestamp: 1)
        f.creatorVersion = 0x0001_0001
        var bytes = f.encode()
        bytes[85] = 1  // set without resealing, as early td-util did
        #expect(try Footer.decode(bytes, file: "f", offset: 0).hidden == 1)
    }

    @Test func headerRoundTripWithParent() throws {
        let footer = Footer(diskType: .differencing, size: 8 << 20, uuid: .random(), timestamp: 1)
        var h = DynamicDiskHeader(tableOffset: 1536, maxTableEntries: 4, blockSize: 2 << 20)
        h.parentUUID = .random()
        h.parentTimestamp = 77
        h.parentUnicodeName = Array("pärent-ü.vhd".utf16)
        h.locators[0] = ParentLocator(platformCode: ParentLocator.codeMacX, dataSpace: 512, dataLength: 20, dataOffset: 4096)
        let bytes = h.encode()
        // UTF-16 big-endian: "p" is 0x00 0x70.
        #expect(bytes[64] == 0x00 && bytes[65] == 0x70)
        let back = try DynamicDiskHeader.decode(bytes, file: "h", offset: 512, footer: footer)
        #expect(back == h)
        #expect(back.parentName == "pärent-ü.vhd")
        #expect(back.bitmapSectors == 1 && back.sectorsPerBlock == 4096)
    }

    @Test func headerRejectsBadBlockSizes() throws {
        let footer = Footer(diskType: .dynamic, size: 8 << 20, uuid: .random(), timestamp: 1)
        for (size, kind) in [(UInt32(3 << 20), VHDError.Kind.badField), (4 << 20, .unsupported), (0, .badField)] {
            let bytes = DynamicDiskHeader(tableOffset: 1536, maxTableEntries: 4, blockSize: size).encode()
            #expect { try DynamicDiskHeader.decode(bytes, file: "h", offset: 512, footer: footer) } throws: {
                ($0 as? VHDError)?.kind == kind && ($0 as? VHDError)?.field == "header.blockSize"
            }
        }
        let small = DynamicDiskHeader(tableOffset: 1536, maxTableEntries: 3, blockSize: 2 << 20).encode()
        #expect { try DynamicDiskHeader.decode(small, file: "h", offset: 512, footer: footer) } throws: {
            ($0 as? VHDError)?.field == "header.maxTableEntries"
        }
    }

    @Test func batRoundTripAndSectors() {
        var bat = BlockAllocationTable(count: 300)
        bat[0] = 7
        bat[129] = 0x1234_5678
        let bytes = bat.encode()
        #expect(bytes.count == 1536)
        #expect(BlockAllocationTable.decode(bytes, count: 300) == bat)
        #expect(bat.encodeSector(1) == Array(bytes[512..<1024]))
        #expect(Array(bytes[1200..<1536]).allSatisfy { $0 == 0xFF })
    }

    @Test func bitmapIsMostSignificantBitFirst() {
        var m = SectorBitmap(count: 4096, byteCount: 512)
        m.set(0)
        m.set(9)
        #expect(m.bytes[0] == 0x80 && m.bytes[1] == 0x40)
        let changed = m.set(16..<4096)
        let again = m.set(100..<200)
        #expect(changed && !again)
        #expect(m.runEnd(from: 16, limit: 4096) == 4096)
        #expect(m.runEnd(from: 1, limit: 4096) == 9)
        #expect(!m.isFull)
        m.set(0..<16)
        #expect(m.isFull)
    }

    @Test func batmapChecksumAndHeader() throws {
        var map = Batmap(headerOffset: 2048, entryCount: 1000)
        map.bits.set(3)
        map.bits.set(999)
        let header = map.encodeHeader(currentSize: 2000 << 20)
        #expect(Array(header[0..<8]) == Array("tdbatmap".utf8))
        #expect(header.be64(8) == 2560 && header.be32(16) == 1 && header.be32(20) == 0x0001_0002)
        #expect(header.be32(24) == ~UInt32(0x10 + 0x01))  // bit 999 is the last of byte 124
        let back = try #require(try Batmap.decodeHeader(header, file: "b", offset: 2048, entryCount: 1000, fileSize: 1 << 20))
        #expect(back.checksum == header.be32(24) && back.mapSectors == 1)
    }

    @Test func locatorPaths() {
        let mac = ParentLocator.encodePath("../base/p.vhd", code: ParentLocator.codeMacX)
        #expect(String(decoding: mac, as: UTF8.self) == "file://../base/p.vhd")
        let w = ParentLocator.encodePath("p.vhd", code: ParentLocator.codeW2ru)
        #expect(w == Array(".\\p.vhd".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        #expect(ParentLocator.decodePath(mac, code: ParentLocator.codeMacX) == "../base/p.vhd")
        #expect(ParentLocator.decodePath(w, code: ParentLocator.codeW2ru) == "./p.vhd")
        let abs = Array("C:\\vms\\p.vhd".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        #expect(ParentLocator.decodePath(abs, code: ParentLocator.codeW2ku) == "/vms/p.vhd")
        #expect(ParentLocator.decodePath([0x41], code: ParentLocator.codeW2ku) == nil)
        #expect(ParentLocator.decodePath([0xFF, 0xFE], code: ParentLocator.codeMacX) == nil)
        #expect(ParentLocator(platformCode: 1, dataSpace: 1, dataLength: 1, dataOffset: 0).spaceBytes == 512)
        #expect(ParentLocator(platformCode: 1, dataSpace: 1024, dataLength: 1, dataOffset: 0).spaceBytes == 1024)
        #expect(ParentLocator(platformCode: 1, dataSpace: 1000, dataLength: 1, dataOffset: 0).spaceBytes == nil)
        #expect(PathText.relative(from: "/a/b/c", to: "/a/d/p.vhd") == "../../d/p.vhd")
        #expect(PathText.relative(from: "/a", to: "/a/p.vhd") == "p.vhd")
    }

    /// CHS as the specification computes it: rounds down, never above the size.
    @Test(arguments: [UInt64(2 << 20), 127 << 20, 1 << 30, 40 << 30, 127 << 30, 2040 << 30])
    func geometryNeverExceedsSize(size: UInt64) {
        let g = Geometry(forSize: size)
        #expect(g.capacityBytes <= size)
        #expect(Geometry(encoded: g.encoded) == g)
        #expect(g.heads <= 16)
    }

    @Test func geometryKnownValues() {
        #expect(Geometry(forSize: 2 << 20) == Geometry(cylinders: 60, heads: 4, sectorsPerTrack: 17))
        #expect(Geometry(forSize: 2040 << 30) == Geometry(cylinders: 65535, heads: 16, sectorsPerTrack: 255))
    }

    @Test func uuidFormatting() {
        let u = VHDUUID(bytes: Array(0..<16))
        #expect(u.description == "00010203-0405-0607-0809-0a0b0c0d0e0f")
        #expect(VHDUUID.null.isNull && !VHDUUID.random().isNull)
    }
}

/// The limits agree with each other and with the format's reach.
@Suite struct VHDLimitsTests {
    @Test func limitsRelate() {
        #expect(VHDLimits.sizeBytesMin == VHDLimits.sizeGranuleBytes)
        #expect(VHDLimits.sizeBytesMax % VHDLimits.sizeGranuleBytes == 0)
        #expect(VHDLimits.blockBytesDefault <= VHDLimits.blockBytesMax)
        #expect(VHDLimits.blockBytesMin <= VHDLimits.blockBytesDefault)
        // A fully allocated maximum image (4104 sectors per block with the gap) stays within
        // the reach of u32 BAT entries.
        let blocks = VHDLimits.sizeBytesMax / VHDLimits.blockBytesDefault
        #expect(blocks * (4096 + 8) + 16 * 1024 < VHDLimits.hostSectorLimit)
        #expect(blocks <= UInt64(VHDLimits.batEntryCountMax))
        // The BAT and batmap of the largest image fit one metadata I/O.
        #expect(blocks * 4 + blocks / 8 + 8192 <= UInt64(VHDLimits.metadataTransferBytesMax))
        #expect(VHDLimits.metadataTransferBytesMax <= StorageLimits.fileTransferBytesMax)
        #expect(VHDLimits.chainDepthMax < Int(Int8.max))  // ChainMap stores layers as Int8
        #expect(VHDLimits.dataAlignmentSectors * VHDLimits.sectorBytes == 4096)
    }

    @Test func roundedSizes() throws {
        #expect(try VHDCreate.roundedSize(1) == 2 << 20)
        #expect(try VHDCreate.roundedSize((2 << 20) + 1) == 4 << 20)
        #expect(try VHDCreate.roundedSize(2040 << 30) == 2040 << 30)
        #expect(throws: VHDError.self) { try VHDCreate.roundedSize((2040 << 30) + 1) }
    }
}

/// Byte-granular I/O over a store that demands 4 KiB alignment: bounce and read-modify-write.
@Suite struct AlignedIOTests {
    @Test func unalignedReadsAndWritesOnAnAlignedStore() throws {
        let loop = try EventLoop()
        let disk = SimulatedDisk(.init(size: 64 << 10, alignment: 4096, transferBytesMax: 16 << 10), seed: 3, loop: loop)
        var expected = [UInt8](repeating: 0, count: 64 << 10)
        var rng = SeededGenerator(seed: 8)
        for _ in 0..<200 {
            let length = Int.random(in: 1...(40 << 10), using: &rng)
            let at = Int.random(in: 0...((64 << 10) - length), using: &rng)
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try disk.writeBytes(data, at: UInt64(at))
            expected.replaceSubrange(at..<(at + length), with: data)
            let r = Int.random(in: 0..<(60 << 10), using: &rng), n = Int.random(in: 1...((64 << 10) - r), using: &rng)
            #expect(try disk.readBytes(count: n, at: UInt64(r)) == Array(expected[r..<(r + n)]))
        }
        #expect(disk.contents(at: 0, count: 64 << 10) == expected)
    }
}
