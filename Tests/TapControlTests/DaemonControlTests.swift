import DataPath
import Foundation
import Glibc
import NBDClient
import StorageIO
import TapControl
import TestSupport
import Testing

/// The control socket end to end against a real sm-tapdisk started by the launcher.
@Suite(.enabled(if: Built.tapdisk != nil, "sm-tapdisk is not built"))
struct DaemonControlTests {
    static let blockBytes = 64 << 10

    func refusal(_ body: () throws -> Void) -> ControlFailure.Kind? {
        do {
            try body()
            return nil
        } catch let TapControlError.refused(_, failure) {
            return failure.kind
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test func listStatsPauseUnpauseShutdownAndBadRequests() throws {
        let served = try ServedVHD()
        let (dir, image, daemon, loop, client) = (served.dir, served.image, served.daemon, served.loop, served.client)
        let control = daemon.control
        var st = stat()
        #expect(stat(daemon.launcher.controlPath, &st) == 0 && st.st_mode & 0o777 == 0o600)

        var exports = try control.list()
        #expect(exports.count == 1)
        #expect(exports.first?.name == "vdi0" && exports.first?.path == image && exports.first?.readOnly == false)
        #expect(exports.first?.state == "serving" && exports.first?.connections == 1)

        // Some I/O from a client that stays connected through the pause.
        let data = AlignedBuffer(Self.blockBytes)
        data.fill(tag: 7)
        try client.write(data.raw, at: 0)
        try client.flush()
        let back = AlignedBuffer(Self.blockBytes)
        try client.read(into: back.mutableRaw, at: 0)
        #expect(back.bytes == data.bytes)

        let stats = try #require(try control.stats().first)
        #expect(stats.inflight == 0 && stats.connections == 1 && stats.pauses == 0)
        let ops = Dictionary(uniqueKeysWithValues: stats.ops.map { ($0.op, $0) })
        #expect(ops["write"]?.requests == 1 && ops["write"]?.bytes == UInt64(Self.blockBytes) && ops["write"]?.errors == 0)
        #expect(ops["read"]?.requests == 1 && ops["flush"]?.requests == 1)
        let p = try #require(ops["write"]?.latencyMicroseconds)
        #expect(p.p50 > 0 && p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p99_9)

        // Bad requests: an error reply each, and the daemon carries on.
        for line in ["garbage\n", "{\"command\":\"explode\"}\n", "{\"command\":\"pause\",\"path\":\"/x\"}\n",
                     String(repeating: "a", count: 20 << 10) + "\n"] {
            let reply = try control.exchange(Array(line.utf8))
            #expect(!reply.ok && reply.error?.kind == .badRequest, "\(line.prefix(40)): \(reply)")
        }
        #expect(refusal { try control.unpause() } == .notPaused)

        try control.pause()
        try control.pause()  // already paused: fine
        exports = try control.list()
        #expect(exports.first?.paused == true && exports.first?.state == "paused")
        #expect(try control.stats().first?.pauses == 1)

        // A path that cannot be opened, or an image smaller than the clients were told:
        // refused, and the daemon stays paused on its image.
        #expect(refusal { try control.unpause(path: dir.file("missing.vhd")) } == .reopenFailed)
        let small = dir.file("small.vhd")
        try makeVHD(small, mib: 8)
        #expect(refusal { try control.unpause(path: small) } == .incompatibleImage)
        #expect(try control.list().first?.state == "paused")

        try control.unpause()
        #expect(try control.list().first?.state == "serving")
        // The same connection carries on, on the reopened image.
        back.fill(tag: 0)
        try client.read(into: back.mutableRaw, at: 0)
        #expect(back.bytes == data.bytes)
        client.close()

        let pid = try #require(daemon.pid)
        let reply = try control.send(ControlRequest(.shutdown))
        #expect(reply.state == "stopping")
        let deadline = Date().addingTimeInterval(10)
        while DataPathLauncher.isAlive(pid) && Date() < deadline { usleep(10_000) }
        #expect(!DataPathLauncher.isAlive(pid), "sm-tapdisk \(pid) still runs after shutdown")
        #expect(!FileManager.default.fileExists(atPath: daemon.launcher.controlPath))
        #expect(ImageCheck.isClean(image))
    }

    /// Requests in flight when the pause arrives finish first; requests sent while paused
    /// wait (the client stays connected) and complete after the unpause, with the right data.
    @Test func requestsWaitThroughAPause() throws {
        let served = try ServedVHD()
        let (daemon, loop, client) = (served.daemon, served.loop, served.client)
        let n = 16
        let bs = Self.blockBytes
        // Blocks 0..<n: written and flushed before anything else.
        let buffers = (0..<3 * n).map { _ in AlignedBuffer(bs) }
        for i in 0..<n {
            buffers[i].fill(tag: UInt64(i))
            try client.write(buffers[i].raw, at: UInt64(i * bs))
        }
        try client.flush()

        // Blocks n..<2n: writes in flight as the pause is asked for.
        var requests: [IORequest] = []
        for i in n..<2 * n {
            buffers[i].fill(tag: UInt64(i))
            let r = IORequest(.write, buffer: buffers[i].pointer, length: bs, offset: UInt64(i * bs))
            requests.append(r)
            client.submit(r)
        }
        let control = daemon.control
        try whileDriving(loop) { try control.pause() }

        // While paused: reads of blocks 0..<n and writes of blocks 2n..<3n wait.
        var waiting: [IORequest] = []
        let reads = (0..<n).map { _ in AlignedBuffer(bs) }
        for i in 0..<n {
            let r = IORequest(.read, buffer: reads[i].pointer, length: bs, offset: UInt64(i * bs))
            waiting.append(r)
            client.submit(r)
        }
        for i in 2 * n..<3 * n {
            buffers[i].fill(tag: UInt64(i))
            let r = IORequest(.write, buffer: buffers[i].pointer, length: bs, offset: UInt64(i * bs))
            waiting.append(r)
            client.submit(r)
        }
        runLoop(loop, seconds: 0.3) { false }
        #expect(waiting.allSatisfy { !$0.isComplete }, "a request was served while paused")
        #expect(try control.list().first?.state == "paused")

        let unpause = Background { try control.unpause() }
        let all = requests + waiting
        #expect(runLoop(loop, seconds: 30) { unpause.isDone && all.allSatisfy(\.isComplete) })
        try unpause.wait()
        for r in all { #expect(r.failure == nil, "\(r.operation) at \(r.offset): \(String(describing: r.failure))") }
        for i in 0..<n { #expect(reads[i].bytes == buffers[i].bytes, "block \(i) read while paused") }
        let back = AlignedBuffer(bs)
        for i in 0..<3 * n {
            try client.read(into: back.mutableRaw, at: UInt64(i * bs))
            #expect(back.bytes == buffers[i].bytes, "block \(i)")
        }
        client.close()
    }

    /// unpause with a path serves another file from then on: what a snapshot does.
    @Test func unpauseServesANewFile() throws {
        let served = try ServedVHD()
        let (dir, image, daemon, loop, client) = (served.dir, served.image, served.daemon, served.loop, served.client)
        let control = daemon.control
        try whileDriving(loop) { try control.pause() }

        let copy = dir.file("b.vhd")
        try FileManager.default.copyItem(atPath: image, toPath: copy)
        let w = try runTool("qemu-io", ["-f", "vpc", "-c", "write -P 0x5a 1M 64k", copy])
        #expect(w.status == 0, "\(w.output)")
        try whileDriving(loop) { try control.unpause(path: copy) }
        #expect(try control.list().first?.path == copy)
        let back = AlignedBuffer(64 << 10)
        try client.read(into: back.mutableRaw, at: 1 << 20)
        #expect(back.bytes.allSatisfy { $0 == 0x5a })
        client.close()
    }
}
