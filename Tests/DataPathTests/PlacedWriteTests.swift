import DataPath
import Foundation
import ImageFormats
import NBD
import StorageIO
import Testing

/// Writes to sectors a VHD does not hold yet move asynchronously (placed writes): many in
/// flight at once, with flushes among them, must all read back, online and after a restart,
/// and the image must read the same through qemu's driver (which ignores bitmaps).
@Suite("Placed writes: asynchronous allocation in a served VHD", .serialized)
struct PlacedWriteTests {
    static let size = 16 << 20

    func serve(_ vhd: String, _ dir: ScratchDirectory) throws -> ServerHarness {
        try ServerHarness(directory: dir) { loop in
            [ServedExport(name: "vdi", backend: try ExportFormat.openExport(vhd, format: .vhd, on: loop, readOnly: false))]
        }
    }

    /// Distinct 4 KiB-aligned offsets spread over the disk (several per 2 MiB block).
    func offsets(count: Int, seed: UInt64) -> [UInt64] {
        var state = seed, seen = Set<UInt64>(), out: [UInt64] = []
        while out.count < count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let at = (state >> 33) % UInt64(Self.size / 4096) * 4096
            if seen.insert(at).inserted { out.append(at) }
        }
        return out
    }

    /// Sends every write (a FLUSH after each `flushEvery`) before reading any reply.
    func pipelinedWrites(_ client: RawClient, _ writes: [(UInt64, [UInt8])], flushEvery: Int) throws {
        var cookies = 0
        for (i, (at, data)) in writes.enumerated() {
            try client.request(NBDRequestHeader(.write, cookie: UInt64(100 + i), offset: at, length: UInt32(data.count)),
                               payload: data)
            cookies += 1
            if i % flushEvery == flushEvery - 1 {
                try client.request(NBDRequestHeader(.flush, cookie: UInt64(10_000 + i)))
                cookies += 1
            }
        }
        for _ in 0..<cookies {
            let r = try client.reply()
            #expect(r.error == 0, "request \(r.cookie) failed: \(r.error)")
        }
    }

    /// The whole disk, in reads the export accepts.
    func readAll(_ client: RawClient) throws -> [UInt8] {
        var out: [UInt8] = []
        for at in stride(from: 0, to: Self.size, by: 4 << 20) {
            let r = try client.read(offset: UInt64(at), length: 4 << 20)
            #expect(r.error == 0)
            out += r.data
        }
        return out
    }

    @Test("pipelined writes into an empty VHD read back online, after a restart, and through qemu")
    func emptyImage() throws {
        let dir = try ScratchDirectory()
        let vhd = dir.file("empty.vhd")
        guard let made = try runTool("qemu-img", ["create", "-f", "vpc", "-o", "subformat=dynamic,force_size=on", vhd, "16M"])
        else { return }
        #expect(made.status == 0, "\(made.output)")
        var expected = [UInt8](repeating: 0, count: Self.size)
        let writes = offsets(count: 96, seed: 41).enumerated().map { i, at in
            (at, pattern(count: i % 3 == 0 ? 8192 : 4096, seed: 500 + UInt64(i)))
        }.filter { $0.0 + UInt64($0.1.count) <= UInt64(Self.size) }
        for (at, data) in writes { expected.replaceSubrange(Int(at)..<(Int(at) + data.count), with: data) }

        var server = try serve(vhd, dir)
        let client = try RawClient(path: server.socketPath)
        try client.handshake()
        try pipelinedWrites(client, writes, flushEvery: 16)
        for (i, (at, data)) in writes.enumerated() where i % 5 == 0 {
            #expect(sameBytes(try client.read(offset: at, length: data.count).data, data), "online read at \(at)")
        }
        #expect(try client.simple(.flush) == 0)
        try client.disconnect()
        server.stop()

        server = try serve(vhd, dir)
        let again = try RawClient(path: server.socketPath)
        try again.handshake()
        #expect(sameBytes(try readAll(again), expected), "after a restart")
        try again.disconnect()
        server.stop()

        let raw = dir.file("expected.raw")
        writeFile(raw, expected)
        guard let compare = try runTool("qemu-img", ["compare", "-f", "vpc", "-F", "raw", vhd, raw]) else { return }
        #expect(compare.status == 0, "\(compare.output)")
    }

    @Test("placed writes in a differencing child keep the parent's neighbouring sectors")
    func child() throws {
        let dir = try ScratchDirectory()
        let base = dir.file("base.vhd"), child = dir.file("child.vhd"), baseRaw = dir.file("base.raw")
        let parentData = pattern(count: Self.size, seed: 42)
        writeFile(baseRaw, parentData)
        guard let made = try runTool("qemu-img", ["convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic,force_size=on",
                                                  baseRaw, base]) else { return }
        #expect(made.status == 0, "\(made.output)")
        try makeDifferencingChild(child, over: base)
        var expected = parentData
        let writes = offsets(count: 48, seed: 43).enumerated().map { i, at in (at, pattern(count: 4096, seed: 600 + UInt64(i))) }
        for (at, data) in writes { expected.replaceSubrange(Int(at)..<(Int(at) + data.count), with: data) }

        let server = try serve(child, dir)
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        try client.handshake()
        try pipelinedWrites(client, writes, flushEvery: 12)
        #expect(sameBytes(try readAll(client), expected))
        try client.disconnect()
    }
}
