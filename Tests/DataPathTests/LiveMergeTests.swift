import DataPath
import Foundation
import ImageFormats
import NBD
import StorageIO
import Testing

/// Online leaf-coalesce inside the data path: a chain [P, L] served over NBD while L is
/// merged into P, with and without guest writes, through the interlock's races, and when
/// P's writes fail.
@Suite("Live leaf-merge in the data path", .serialized)
struct LiveMergeTests {
    static let mib: UInt64 = 1 << 20

    /// 64 MiB: full, partial and interleaved blocks in both layers.
    func fixture(_ dir: ScratchDirectory) throws -> MergeFixture {
        let m = Self.mib
        let parent: [(UInt64, Int)] = [(0, 4 << 20), (10 * m, 1 << 20), (20 * m + 4096, 64 << 10), (40 * m, 2 << 20)]
        let leaf: [(UInt64, Int)] = [
            (2 * m, 2 << 20),                  // a full block the parent lacks
            (10 * m + (512 << 10), 8 << 10),   // inside the parent's data
            (20 * m, 4096), (20 * m + (32 << 10), 4096),  // partial over partial
            (30 * m + 12288, 1 << 20),         // partial, in a block the parent lacks
            (41 * m, 1 << 20),                 // half of a parent block
            (60 * m, 4 << 20),                 // the last two blocks
        ]
        return try MergeFixture.make(dir, size: 64 * m, parentWrites: parent, leafWrites: leaf)
    }

    /// Checks the merged parent offline: content, our check, and qemu-img compare against a flattened copy.
    func expectMergedParent(_ f: MergeFixture, _ dir: ScratchDirectory) throws {
        let (difference, report) = try f.parentDifference()
        #expect(difference == nil, "the parent differs from the leaf's view at byte \(difference ?? -1)")
        #expect(report.isClean, "\(report)")
        let flat = dir.file("flat.raw")
        f.writeFlat(flat)
        // qemu-img check does not support vpc (exit 63): compare reads the whole image instead.
        guard let compare = try runTool("qemu-img", ["compare", "-f", "vpc", "-F", "raw", f.parentPath, flat]) else { return }
        #expect(compare.status == 0, "\(compare.output)")
    }

    @Test("merge with no writes: the parent ends equal to the leaf's view and checks clean")
    func idleMerge() throws {
        let dir = try ScratchDirectory()
        let f = try fixture(dir)
        let server = try MergeServer(f, dir: dir)
        defer { server.stop() }
        #expect(server.startMerge(), "\(server.startError.get() ?? "")")
        let s = try #require(server.wait(for: [.mirroring, .failed], seconds: 30))
        #expect(s.phase == .mirroring, "\(s.failure ?? "")")
        #expect(s.blocksTotal == 7 && s.blocksCopied == s.blocksTotal)
        let leafBytes: UInt64 = (2 << 20) + (8 << 10) + 8192 + (1 << 20) + (1 << 20) + (4 << 20)
        #expect(s.bytesCopied == leafBytes)
        // While mirroring, the chain still reads as before.
        let client = try RawClient(path: server.socketPath)
        try client.handshake()
        for offset in [UInt64(0), 2 * Self.mib, 20 * Self.mib, 30 * Self.mib, 41 * Self.mib, 62 * Self.mib] {
            let got = try client.read(offset: offset, length: 1 << 20)
            #expect(got.error == 0 && sameBytes(got.data, Array(f.model[Int(offset)..<Int(offset + Self.mib)])))
        }
        try client.disconnect()
        server.stop()
        #expect(server.status.get()?.phase == .complete)
        try expectMergedParent(f, dir)
    }

    @Test("merge under a full-speed random writer converges; the parent equals every acknowledged write")
    func mergeUnderWriter() throws {
        let dir = try ScratchDirectory()
        let m = Self.mib
        // 256 MiB: 96 MiB of full blocks in the leaf, partial runs, the parent half full.
        var leafWrites: [(UInt64, Int)] = [(0, 96 << 20)]
        for i in 0..<64 { leafWrites.append((128 * m + UInt64(i) * 2 * m + UInt64(i % 7) * 8192, 12288)) }
        var f = try MergeFixture.make(dir, size: 256 * m, parentWrites: [(64 * m, 128 << 20)], leafWrites: leafWrites)
        let server = try MergeServer(f, dir: dir)
        defer { server.stop() }
        let writer = try PipelinedWriter(socketPath: server.socketPath, depth: 32, region: 0..<UInt64(f.size))
        writer.start(seed: 0x5EED)
        #expect(waitUntil(seconds: 20) { writer.acknowledged.get() >= 300 }, "the writer did not get going")
        let atStart = writer.acknowledged.get()
        #expect(server.startMerge(), "\(server.startError.get() ?? "")")
        let s = try #require(server.wait(for: [.mirroring, .failed], seconds: 60))
        let atConvergence = writer.acknowledged.get()
        #expect(s.phase == .mirroring, "did not converge under load: \(s)")
        // Keep writing while mirroring, then stop.
        #expect(waitUntil(seconds: 20) { writer.acknowledged.get() >= atConvergence + 300 })
        writer.stop()
        #expect(writer.failure.get() == nil, "\(writer.failure.get() ?? "")")
        #expect(atConvergence > atStart, "no write was acknowledged during the merge")
        server.stop()
        let final = try #require(server.status.get())
        #expect(final.phase == .complete, "\(final)")
        #expect(final.writesMirrored > 0)
        writer.apply(to: &f)
        let (chain, _) = try f.chainDifference()
        #expect(chain == nil, "the leaf's view differs from the model at \(chain ?? -1)")
        let (difference, report) = try f.parentDifference()
        #expect(difference == nil, "the parent differs from the model at byte \(difference ?? -1)")
        #expect(report.isClean, "\(report)")
    }

    @Test("a write to a block under copy waits for the copy, then lands in both images")
    func writeWaitsForCopy() throws {
        let dir = try ScratchDirectory()
        var f = try MergeFixture.make(dir, size: 64 * Self.mib, parentWrites: [(8 * Self.mib, 4 << 20)],
                                      leafWrites: [(10 * Self.mib, 2 << 20)])
        let holder = Box<HoldingStore?>(nil)
        let server = try MergeServer(f, dir: dir, leafStore: { store in
            // Hold the copier's data reads of the leaf (metadata reads are small).
            let h = HoldingStore(store) { $0.operation == .read && $0.length >= 64 << 10 }
            holder.set(h)
            return h
        }, extra: { _ in [3: { holder.get()?.armed = true }, 4: { holder.get()?.release() }] })
        defer { server.stop() }
        #expect(server.commands.fire(3))
        #expect(server.startMerge(), "\(server.startError.get() ?? "")")
        #expect(waitUntil(seconds: 10) { (holder.get()?.heldCount.get() ?? 0) >= 1 }, "the copier's read was not held")

        let client = try RawClient(path: server.socketPath)
        try client.handshake()
        let offset = 10 * Self.mib + 8192
        let data = pattern(count: 4096, seed: 77)
        try client.request(NBDRequestHeader(.write, cookie: 5, offset: offset, length: 4096), payload: data)
        #expect(!replyArrives(client, milliseconds: 300), "the write went ahead of the copy of its block")
        let waiting = try #require(server.refresh())
        #expect(waiting.phase == .copying && waiting.writesWaited == 1)

        #expect(server.commands.fire(4))
        #expect(try client.reply().error == 0)
        #expect(server.wait(for: [.mirroring, .failed], seconds: 10)?.phase == .mirroring)
        #expect(sameBytes(try client.read(offset: offset, length: 4096).data, data))
        try client.disconnect()
        server.stop()
        #expect(server.status.get()?.phase == .complete)
        data.withUnsafeBytes { f.record($0, at: Int(offset)) }
        try expectMergedParent(f, dir)
    }

    @Test("a merge waits for writes already in flight (quiescing); writes meanwhile wait, then are mirrored")
    func mergeWaitsForEarlierWrites() throws {
        let dir = try ScratchDirectory()
        var f = try MergeFixture.make(dir, size: 64 * Self.mib, parentWrites: [(0, 2 << 20)],
                                      leafWrites: [(10 * Self.mib, 2 << 20)])
        let holder = Box<HoldingStore?>(nil)
        let server = try MergeServer(f, dir: dir, leafStore: { store in
            let h = HoldingStore(store) { $0.operation == .write && $0.length == 4096 }
            holder.set(h)
            return h
        }, extra: { _ in [3: { holder.get()?.armed = true }, 4: { holder.get()?.release() }] })
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        try client.handshake()
        #expect(server.commands.fire(3))
        // An overwrite of the leaf's block, held in the leaf's store.
        let first = pattern(count: 4096, seed: 81), second = pattern(count: 4096, seed: 82)
        try client.request(NBDRequestHeader(.write, cookie: 1, offset: 10 * Self.mib + 4096, length: 4096), payload: first)
        #expect(waitUntil(seconds: 10) { (holder.get()?.heldCount.get() ?? 0) >= 1 })
        #expect(server.startMerge(), "\(server.startError.get() ?? "")")
        #expect(server.refresh()?.phase == .quiescing)
        // A write during quiescing waits (into a block the leaf lacks: it will be mirrored).
        try client.request(NBDRequestHeader(.write, cookie: 2, offset: 20 * Self.mib, length: 4096), payload: second)
        #expect(!replyArrives(client, milliseconds: 300))
        #expect(server.refresh()?.writesWaited == 1)
        #expect(server.commands.fire(4))
        let replies = [try client.reply(), try client.reply()]
        #expect(Set(replies.map(\.cookie)) == [1, 2] && replies.allSatisfy { $0.error == 0 })
        #expect(server.wait(for: [.mirroring, .failed], seconds: 10)?.phase == .mirroring)
        try client.disconnect()
        server.stop()
        #expect(server.status.get()?.phase == .complete)
        first.withUnsafeBytes { f.record($0, at: Int(10 * Self.mib + 4096)) }
        second.withUnsafeBytes { f.record($0, at: Int(20 * Self.mib)) }
        try expectMergedParent(f, dir)
    }

    /// After a failed merge: guest I/O works, the leaf's view is the model, the parent checks.
    func expectLeafAuthoritative(_ f: inout MergeFixture, _ server: MergeServer, writeAt offset: UInt64) throws {
        let client = try RawClient(path: server.socketPath)
        try client.handshake()
        let data = pattern(count: 8192, seed: 91)
        #expect(try client.write(offset: offset, data) == 0)
        data.withUnsafeBytes { f.record($0, at: Int(offset)) }
        var at: UInt64 = 0
        while at < UInt64(f.size) {
            let got = try client.read(offset: at, length: 4 << 20)
            #expect(got.error == 0 && sameBytes(got.data, Array(f.model[Int(at)..<Int(at + (4 << 20))])), "NBD read at \(at)")
            at += 4 << 20
        }
        try client.disconnect()
        server.stop()
        #expect(server.status.get()?.phase == .failed)
        let (difference, report) = try f.chainDifference()
        #expect(difference == nil, "the leaf's view changed at byte \(difference ?? -1)")
        #expect(report.isClean, "\(report)")
    }

    @Test("a parent write failing during the copy stops the merge; the leaf stays authoritative")
    func parentFailsDuringCopy() throws {
        let dir = try ScratchDirectory()
        var f = try fixture(dir)
        let parentPath = f.parentPath
        let server = try MergeServer(f, dir: dir, parentStore: { loop in
            FailingStore(try LocalFile.open(parentPath, on: loop), goodWrites: 1)
        })
        defer { server.stop() }
        #expect(server.startMerge(), "\(server.startError.get() ?? "")")
        let s = try #require(server.wait(for: [.mirroring, .failed], seconds: 20))
        #expect(s.phase == .failed && s.failure?.contains("parent") == true, "\(s)")
        try expectLeafAuthoritative(&f, server, writeAt: 2 * Self.mib + 4096)
    }

    @Test("a mirrored write failing in the parent stops the merge; the guest's write succeeds")
    func parentFailsWhileMirroring() throws {
        let dir = try ScratchDirectory()
        var f = try fixture(dir)
        let parentPath = f.parentPath
        let failing = Box<FailingStore?>(nil)
        let server = try MergeServer(f, dir: dir, parentStore: { loop in
            let store = FailingStore(try LocalFile.open(parentPath, on: loop))
            failing.set(store)
            return store
        }, extra: { _ in [3: { failing.get()?.failing = true }] })
        defer { server.stop() }
        #expect(server.startMerge(), "\(server.startError.get() ?? "")")
        #expect(server.wait(for: [.mirroring, .failed], seconds: 20)?.phase == .mirroring)
        #expect(server.commands.fire(3))
        // The write goes to the leaf and (mirrored) to the failing parent.
        try expectLeafAuthoritative(&f, server, writeAt: 2 * Self.mib + 4096)
        #expect((failing.get()?.failedCount.get() ?? 0) >= 1)
        #expect(server.status.get()?.failure?.contains("mirrored") == true)
    }

    @Test("starting a merge on an export that cannot merge is refused with a typed error")
    func refusals() throws {
        let dir = try ScratchDirectory()
        let f = try fixture(dir)
        let wrong = dir.file("other.vhd")
        let loop = try EventLoop()
        try VHDCreate.dynamic(on: try LocalFile.open(wrong, on: loop, options: .init(create: true)), size: 64 * Self.mib)
        let chain = try ImageChain.open(f.leafPath, on: loop)
        let export = DiskImageExport(image: chain)
        #expect(throws: LeafMergeError.self) { try export.startLeafMerge(parentPath: wrong) }
        #expect(export.leafMergeStatus == nil)
        let single = DiskImageExport(image: try ImageChain.open(f.parentPath, on: loop, readOnly: true))
        #expect(throws: LeafMergeError.self) { try single.startLeafMerge(parentPath: f.parentPath) }
        try export.startLeafMerge(parentPath: f.parentPath)
        #expect(throws: LeafMergeError.self) { try export.startLeafMerge(parentPath: f.parentPath) }
        loop.run { export.leafMergeStatus?.phase == .mirroring }
        try export.close()
        try single.close()
        #expect(export.leafMergeStatus?.phase == .complete)
    }
}
