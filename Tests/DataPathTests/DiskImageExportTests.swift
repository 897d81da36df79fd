import DataPath
import Foundation
import ImageFormats
import NBD
import StorageIO
import Testing

/// A VHD made by qemu-img, served through `DiskImageExport`: reads resolve to host extents
/// and holes, block status reports the unallocated blocks, writes go through the image.
@Suite("DiskImage export: VHD over NBD", .serialized)
struct DiskImageExportTests {
    static let size = 16 << 20

    /// A raw file with data only in 4–8 MiB, and the same disk as a dynamic VHD.
    func makeImages(_ dir: ScratchDirectory) throws -> (raw: String, vhd: String)? {
        let raw = dir.file("sparse.raw")
        var content = [UInt8](repeating: 0, count: Self.size)
        content.replaceSubrange((5 << 20)..<(7 << 20), with: pattern(count: 2 << 20, seed: 21))
        writeFile(raw, content)
        let vhd = dir.file("disk.vhd")
        guard let made = try runTool("qemu-img", ["convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic", raw, vhd]) else {
            return nil
        }
        #expect(made.status == 0, "\(made.output)")
        return (raw, vhd)
    }

    func serve(_ vhd: String, _ dir: ScratchDirectory) throws -> ServerHarness {
        try ServerHarness(directory: dir) { loop in
            let backend = try ExportFormat.openExport(vhd, format: .auto, on: loop, readOnly: false)
            return [ServedExport(name: "vdi", backend: backend)]
        }
    }

    @Test("holes, block status and content match the raw original")
    func readPath() throws {
        let dir = try ScratchDirectory()
        guard let (raw, vhd) = try makeImages(dir) else { return }
        let server = try serve(vhd, dir)
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        try client.handshake(meta: true)
        let hole = try client.read(offset: 0, length: 65536)
        #expect(hole.error == 0 && hole.chunkTypes == [NBDChunkType.offsetHole.rawValue] && hole.holeBytes == 65536)
        let data = try client.read(offset: 5 << 20, length: 65536)
        #expect(data.chunkTypes == [NBDChunkType.offsetData.rawValue])
        #expect(sameBytes(data.data, Array(pattern(count: 65536, seed: 21))))
        try client.request(NBDRequestHeader(.blockStatus, cookie: 9, offset: 0, length: UInt32(Self.size)))
        let status = try client.reply()
        #expect(status.extents.first.map { $0.0 == 4 << 20 && $0.1 == 3 } == true, "first 4 MiB: hole+zero")
        #expect(status.extents.dropFirst().first.map { $0.0 == 4 << 20 && $0.1 == 0 } == true, "4–8 MiB: data")
        guard let compare = try runTool("qemu-img", ["compare", "-f", "raw", raw, server.uri]) else { return }
        #expect(compare.status == 0, "\(compare.output)")
    }

    @Test("writes through NBD land in the VHD (checked offline by qemu-img)")
    func writePath() throws {
        let dir = try ScratchDirectory()
        guard let (_, vhd) = try makeImages(dir) else { return }
        let server = try serve(vhd, dir)
        let incoming = dir.file("incoming.raw")
        // The VHD's virtual size is rounded up to its CHS geometry: match it.
        let size = Int(try RawClient(path: server.socketPath).handshake().0)
        var content = pattern(count: size, seed: 22)
        content.replaceSubrange(0..<(2 << 20), with: [UInt8](repeating: 0, count: 2 << 20))
        writeFile(incoming, content)
        guard let copy = try runTool("nbdcopy", [incoming, server.uri], timeout: 30) else { server.stop(); return }
        #expect(copy.status == 0, "\(copy.output)")
        server.stop()
        let compare = try #require(try runTool("qemu-img", ["compare", "-f", "vpc", "-F", "raw", vhd, incoming]))
        #expect(compare.status == 0, "\(compare.output)")
    }

    @Test("overwrites (in place, async) and allocating writes both read back, online and offline")
    func overwriteAndAllocate() throws {
        let dir = try ScratchDirectory()
        guard let (raw, vhd) = try makeImages(dir) else { return }
        let server = try serve(vhd, dir)
        let client = try RawClient(path: server.socketPath)
        try client.handshake()
        let over = pattern(count: 65536, seed: 23), fresh = pattern(count: 65536, seed: 24)
        #expect(try client.write(offset: (5 << 20) + 4096, over) == 0)        // allocated block: in place
        #expect(try client.write(offset: (12 << 20) + 512, fresh, fua: true) == 0) // unallocated: allocates
        #expect(sameBytes(try client.read(offset: (5 << 20) + 4096, length: 65536).data, over))
        #expect(sameBytes(try client.read(offset: (12 << 20) + 512, length: 65536).data, fresh))
        #expect(try client.simple(.flush) == 0)
        try client.disconnect()
        server.stop()
        let out = dir.file("out.raw")
        guard let convert = try runTool("qemu-img", ["convert", "-f", "vpc", "-O", "raw", vhd, out]) else { return }
        #expect(convert.status == 0, "\(convert.output)")
        var expected = Array(try Data(contentsOf: URL(fileURLWithPath: raw)))
        expected.replaceSubrange(((5 << 20) + 4096)..<((5 << 20) + 4096 + 65536), with: over)
        expected.replaceSubrange(((12 << 20) + 512)..<((12 << 20) + 512 + 65536), with: fresh)
        let got = Array(try Data(contentsOf: URL(fileURLWithPath: out)).prefix(expected.count))
        #expect(sameBytes(got, expected))
    }

    @Test("a differencing VHD is served with its parent: reads fall through, writes stay in the child")
    func chain() throws {
        let dir = try ScratchDirectory()
        guard let (raw, base) = try makeImages(dir) else { return }
        let child = dir.file("child.vhd")
        try makeDifferencingChild(child, over: base)
        let server = try serve(child, dir)
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        try client.handshake(meta: true)
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: raw)))
        #expect(sameBytes(try client.read(offset: 5 << 20, length: 1 << 20).data, Array(original[(5 << 20)..<(6 << 20)])),
                "unallocated in the child: read from the parent")
        let mine = pattern(count: 65536, seed: 25)
        #expect(try client.write(offset: (5 << 20) + 65536, mine) == 0)
        #expect(sameBytes(try client.read(offset: (5 << 20) + 65536, length: 65536).data, mine))
        #expect(sameBytes(try client.read(offset: 5 << 20, length: 65536).data, Array(original[(5 << 20)..<((5 << 20) + 65536)])))
        try client.request(NBDRequestHeader(.blockStatus, cookie: 4, offset: 0, length: 8 << 20))
        let status = try client.reply()
        #expect(status.extents.first.map { $0.0 == 4 << 20 && $0.1 == 3 } == true, "nothing in any layer: hole+zero")
        #expect(status.extents.dropFirst().first?.1 == 0, "the parent's data is data")
        try client.disconnect()
        // The parent is untouched.
        guard let compare = try runTool("qemu-img", ["compare", "-f", "vpc", "-F", "raw", base, raw]) else { return }
        #expect(compare.status == 0, "\(compare.output)")
    }
}
