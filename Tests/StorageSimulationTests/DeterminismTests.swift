import StorageIO
import Testing
@testable import StorageSimulation

/// Same seed, same trace: the property that makes a failing seed worth printing.
@Suite struct DeterminismTests {
    /// A workload that exercises every source of randomness: delays, reordering, probabilistic
    /// faults, a crash with tearing, and a restart that continues the stream.
    private func trace(seed: UInt64) throws -> [String] {
        let loop = try makeLoop()
        let plan = FaultPlan().delaying(maxTurns: 3).failingWrites(probability: 0.1).failingFlushes(probability: 0.1)
        let disk = SimulatedDisk(size: 32 * 512, seed: seed, loop: loop, faults: plan)
        let buffer = TestBuffer(pattern(32 * 512, seed: 1234)) // same data for every seed
        var requests: [IORequest] = []
        for index in 0..<40 {
            let request: IORequest
            switch index % 5 {
            case 4: request = IORequest(.flush)
            case 3: request = IORequest(.read, buffer: buffer.pointer, length: 1024, offset: UInt64(index * 256))
            default:
                request = IORequest(.write, buffer: buffer.pointer + index * 300, length: 1536,
                                    offset: UInt64(index * 300 % (30 * 512)))
            }
            requests.append(request)
            disk.submit(request)
            if index % 8 == 7 { spin(loop, turns: 2) }
        }
        spin(loop, turns: 2)
        disk.crash(torn: true)
        let rebooted = disk.restart(faults: FaultPlan().delaying(maxTurns: 2))
        _ = try? rebooted.readBytes(at: 0, count: 32 * 512)
        try rebooted.write(bytes: [1, 2, 3], at: 5)
        return rebooted.trace
    }

    @Test func sameSeedGivesTheSameTrace() throws {
        let seed = SimulationSeed.resolve(default: 2024)
        let first = try trace(seed: seed)
        #expect(first.count > 100)
        #expect(first.contains { $0.hasPrefix("crash #") })
        #expect(try trace(seed: seed) == first, "\(SimulationSeed.replayHint(seed: seed, test: "sameSeedGivesTheSameTrace"))")
    }

    @Test func differentSeedsGiveDifferentTraces() throws {
        let traces = try (1...5).map { try trace(seed: UInt64($0)) }
        #expect(Set(traces).count == 5)
    }

    @Test func digestTracksTheLines() throws {
        let loop = try makeLoop()
        let a = SimulatedDisk(size: 4096, seed: 1, loop: loop), b = SimulatedDisk(size: 4096, seed: 1, loop: loop)
        try a.write(bytes: [1], at: 0)
        try b.write(bytes: [2], at: 0) // different data, same shape: the data digest tells them apart
        #expect(a.trace.count == b.trace.count)
        #expect(a.traceDigest != b.traceDigest)
        #expect(a.replayHint == "replay with SM_SIM_SEED=1 swift test")
    }
}
