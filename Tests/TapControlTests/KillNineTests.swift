import Foundation
import Glibc
import NBDClient
import StorageIO
import TapControl
import TestSupport
import Testing

/// kill -9 of sm-tapdisk while a client writes with periodic flushes into an empty VHD
/// (every write allocates at first): after a restart on the same image, every write
/// acknowledged before a completed flush reads back, unflushed writes read as old or new
/// data per sector, and the image checks clean (and qemu reads it).
@Suite(.enabled(if: Built.tapdisk != nil, "sm-tapdisk is not built"))
struct KillNineTests {
    static let blockBytes = 64 << 10
    static let blockCount = 384
    static let depth = 16

    @Test(arguments: [UInt64(1), 2, 3])
    func flushedWritesSurviveKill9(seed: UInt64) throws {
        let dir = TempDir(prefix: "tapkill")
        let image = dir.file("a.vhd")
        try makeVHD(image, mib: 32)
        let daemon = try TestDaemon(dir: dir, image: image)
        var rng = SeededGenerator(seed: seed)
        var durable: [Int: UInt64] = [:]  // block → tag, as of the last completed flush
        var tag: UInt64 = seed << 32
        let buffers = (0..<Self.depth).map { _ in AlignedBuffer(Self.blockBytes) }

        var loop = try EventLoop()
        var client = try NBDClientStore(uri: daemon.launcher.nbdURI, on: loop)
        // Flushed rounds: a batch of writes in flight at once, then a flush.
        let rounds = 4 + Int(rng.next() % 6)
        for _ in 0..<rounds {
            var batch: [(block: Int, tag: UInt64, request: IORequest)] = []
            for i in 0..<Self.depth {
                let block = Int(rng.next() % UInt64(Self.blockCount / 2))
                guard !batch.contains(where: { $0.block == block }) else { continue }
                tag += 1
                buffers[i].fill(tag: tag)
                let r = IORequest(.write, buffer: buffers[i].pointer, length: Self.blockBytes, offset: UInt64(block * Self.blockBytes))
                batch.append((block, tag, r))
                client.submit(r)
            }
            #expect(runLoop(loop, seconds: 30) { batch.allSatisfy { $0.request.isComplete } })
            for w in batch { try #require(w.request.failure == nil, "\(String(describing: w.request.failure))") }
            try client.flush()
            for w in batch { durable[w.block] = w.tag }
        }
        // A last batch, never flushed, to blocks the flushed rounds did not touch; the
        // daemon dies with it in flight.
        var unflushed: [Int: UInt64] = [:]
        var inFlight: [IORequest] = []
        for i in 0..<Self.depth {
            let block = Self.blockCount / 2 + Int(rng.next() % UInt64(Self.blockCount / 2))
            guard unflushed[block] == nil else { continue }
            tag += 1
            buffers[i].fill(tag: tag)
            let r = IORequest(.write, buffer: buffers[i].pointer, length: Self.blockBytes, offset: UInt64(block * Self.blockBytes))
            unflushed[block] = tag
            inFlight.append(r)
            client.submit(r)
        }
        loop.runOnce(timeoutNanoseconds: 0)
        let spins = Int(rng.next() % 4)
        for _ in 0..<spins { loop.runOnce(timeoutNanoseconds: 200_000) }
        daemon.kill9()
        runLoop(loop, seconds: 10) { inFlight.allSatisfy(\.isComplete) }
        client.close()

        // Restart on the same image; the launcher replaces the stale socket files.
        try daemon.start()
        loop = try EventLoop()
        client = try NBDClientStore(uri: daemon.launcher.nbdURI, on: loop)
        let back = AlignedBuffer(Self.blockBytes)
        for (block, t) in durable.sorted(by: { $0.key < $1.key }) {
            try client.read(into: back.mutableRaw, at: UInt64(block * Self.blockBytes))
            #expect(back.bytes == pattern(tag: t, count: Self.blockBytes), "seed \(seed): flushed block \(block) lost")
        }
        for (block, t) in unflushed {
            try client.read(into: back.mutableRaw, at: UInt64(block * Self.blockBytes))
            let new = pattern(tag: t, count: Self.blockBytes)
            for s in stride(from: 0, to: Self.blockBytes, by: 512) {
                let sector = back.bytes[s..<s + 512]
                #expect(sector.allSatisfy { $0 == 0 } || sector.elementsEqual(new[s..<s + 512]),
                        "seed \(seed): unflushed block \(block) sector \(s / 512) is neither old nor new")
            }
        }
        client.close()
        try daemon.launcher.stop()
        #expect(ImageCheck.isClean(image), "seed \(seed)")
        // qemu reads what we wrote: its conversion matches ours.
        let raw = dir.file("a.raw")
        let convert = try runTool("qemu-img", ["convert", "-f", "vpc", "-O", "raw", image, raw])
        #expect(convert.status == 0, "\(convert.output)")
        let ours = try readImage(image, bytes: Self.blockCount * Self.blockBytes)
        let theirs = try #require(FileManager.default.contents(atPath: raw))
        #expect(Array(theirs.prefix(ours.data.count)) == ours.data, "seed \(seed): qemu reads other data")
    }
}
