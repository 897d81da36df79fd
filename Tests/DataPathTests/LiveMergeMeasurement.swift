import DataPath
import Foundation
import Testing

/// Not a test: measures the live leaf-merge of a leaf with 1 GiB written, idle and under a
/// QD32 4 KiB random writer, and the writer's IOPS with and without a merge running.
/// Run with `SM_LIVE_MERGE_BENCH=1` (a release build gives the meaningful figures):
///   SM_LIVE_MERGE_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter LiveMergeMeasurement
@Suite("Live leaf-merge measurement", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["SM_LIVE_MERGE_BENCH"] != nil))
struct LiveMergeMeasurement {
    static let mib: UInt64 = 1 << 20

    func fixture(_ dir: ScratchDirectory) throws -> MergeFixture {
        try MergeFixture.make(dir, size: 2048 * Self.mib, parentWrites: [], leafWrites: [(0, 1 << 30)])
    }

    /// Seconds from starting the merge until it converged.
    func merge(_ server: MergeServer) throws -> (seconds: Double, status: LeafMergeStatus) {
        let start = Date()
        #expect(server.startMerge())
        let s = try #require(server.wait(for: [.mirroring, .failed], seconds: 300))
        #expect(s.phase == .mirroring)
        return (Date().timeIntervalSince(start), s)
    }

    @Test("merge throughput, idle and under a QD32 random writer")
    func measure() throws {
        let dir = try ScratchDirectory()
        let idleFixture = try fixture(dir)
        let idle = try MergeServer(idleFixture, dir: dir)
        let (idleSeconds, idleStatus) = try merge(idle)
        idle.stop()
        let idleRate = Double(idleStatus.bytesCopied) / idleSeconds / 1e6

        let loadDir = try ScratchDirectory()
        let loaded = try fixture(loadDir)
        let server = try MergeServer(loaded, dir: loadDir)
        defer { server.stop() }
        let writer = try PipelinedWriter(socketPath: server.socketPath, depth: 32, region: 0..<UInt64(loaded.size))
        writer.start(seed: 11)
        usleep(1_000_000)  // warm-up
        let before = writer.acknowledged.get()
        usleep(3_000_000)
        let baselineIOPS = Double(writer.acknowledged.get() - before) / 3
        let atStart = writer.acknowledged.get()
        let (loadSeconds, loadStatus) = try merge(server)
        let duringIOPS = Double(writer.acknowledged.get() - atStart) / loadSeconds
        writer.stop()
        let loadRate = Double(loadStatus.bytesCopied) / loadSeconds / 1e6
        print(String(format: "live leaf-merge of 1 GiB: idle %.0f MB/s (%.2f s); under QD32 4 KiB random writes %.0f MB/s (%.2f s, %d writes mirrored, %d waited); writer %.0f IOPS without merge, %.0f IOPS during (%.2fx)",
                     idleRate, idleSeconds, loadRate, loadSeconds, loadStatus.writesMirrored, loadStatus.writesWaited,
                     baselineIOPS, duringIOPS, duringIOPS / baselineIOPS))
    }
}
