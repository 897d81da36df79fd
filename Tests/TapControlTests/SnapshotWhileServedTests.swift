import Foundation
import Glibc
import NBDClient
import StorageIO
import Synchronization
import TestSupport
import Testing

/// A QD1 writer over NBD: write g goes to block g % blockCount with content tag g, each
/// acknowledged before the next, so the writes are totally ordered.
final class OrderedWriter: Sendable {
    static let blockBytes = 64 << 10
    let blockCount: Int
    let stop = Atomic<Bool>(false)
    let completed = Atomic<Int>(0)

    init(blockCount: Int) { self.blockCount = blockCount }

    func run(uri: String) throws -> Int {
        let loop = try EventLoop()
        let client = try NBDClientStore(uri: uri, on: loop)
        defer { client.close() }
        let buffer = AlignedBuffer(Self.blockBytes)
        var g = 0
        while !stop.load(ordering: .acquiring) {
            buffer.fill(tag: UInt64(g) + 1)
            try client.write(buffer.raw, at: UInt64((g % blockCount) * Self.blockBytes))
            g += 1
            completed.store(g, ordering: .releasing)
        }
        return g
    }

    /// The disk after the first `k` writes.
    func state(after k: Int) -> [UInt8] {
        var disk = [UInt8](repeating: 0, count: blockCount * Self.blockBytes)
        for b in 0..<blockCount {
            // The last write to block b among the first k.
            guard k > b else { continue }
            let g = b + ((k - 1 - b) / blockCount) * blockCount
            disk.replaceSubrange(b * Self.blockBytes..<(b + 1) * Self.blockBytes,
                                 with: pattern(tag: UInt64(g) + 1, count: Self.blockBytes))
        }
        return disk
    }

    /// How many writes `disk` shows: one more than the newest generation in any block.
    func writesSeen(in disk: [UInt8]) -> Int {
        var newest = 0
        for b in 0..<blockCount {
            let word = disk.withUnsafeBytes { $0.load(fromByteOffset: b * Self.blockBytes, as: UInt64.self) }
            if word != 0 { newest = max(newest, Int(truncatingIfNeeded: tag(ofFirstWord: word))) }
        }
        return newest
    }

    func waitFor(_ count: Int, seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while completed.load(ordering: .acquiring) < count {
            if Date() > deadline { return false }
            usleep(2000)
        }
        return true
    }
}

/// Snapshot of a VDI that sm-tapdisk serves while a client writes: the engine pauses the
/// daemon, so the snapshot holds exactly the writes acknowledged before the pause, and the
/// VDI (its new leaf) everything.
@Suite(.enabled(if: Built.both, "sm-tapdisk and sm-cli are not built"))
struct SnapshotWhileServedTests {
    @Test func snapshotHoldsExactlyAPrefixOfTheWrites() throws {
        let host = CLIHost()
        let (sr, vdi) = try host.makeVDI(mib: 16)
        let uri = try host.ok("vdi-attach", "uuid=\(vdi)")
        #expect(uri == "nbd+unix:///\(vdi)?socket=\(host.runDirectory)/\(sr)/\(vdi).sock")

        let writer = OrderedWriter(blockCount: 48)
        let run = Background { try writer.run(uri: uri) }
        #expect(writer.waitFor(100))
        let before = writer.completed.load(ordering: .acquiring)
        let snapshot = try host.ok("vdi-snapshot", "uuid=\(vdi)")
        let after = writer.completed.load(ordering: .acquiring)
        #expect(writer.waitFor(after + 100), "the writer did not resume after the snapshot")
        writer.stop.store(true, ordering: .releasing)
        let total = try run.wait()
        // The snapshot went through one pause of the daemon (and no more).
        #expect(try host.ok("tap-stats", "uuid=\(vdi)").contains("pauses ( RO): 1"))
        try host.ok("vdi-detach", "uuid=\(vdi)")

        let size = writer.blockCount * OrderedWriter.blockBytes
        let snap = try readImage(host.imagePath(sr: sr, vdi: snapshot), bytes: size)
        let leaf = try readImage(host.imagePath(sr: sr, vdi: vdi), bytes: size)
        #expect(snap.clean, "\(snap.report)")
        #expect(leaf.clean, "\(leaf.report)")
        #expect(leaf.data == writer.state(after: total), "the VDI lost writes")
        // The snapshot is the disk after some k writes: every write acknowledged before the
        // snapshot command started, none acknowledged after it returned.
        let k = writer.writesSeen(in: snap.data)
        #expect(k >= before && k <= after, "the snapshot holds \(k) writes, not \(before)...\(after)")
        #expect(writer.state(after: k) == snap.data, "the snapshot is not the disk after its first \(k) writes")
        // The engine's other checks: records and images agree.
        #expect(try host.run(["sr-check", "uuid=\(sr)"]).status == 0)
    }
}
