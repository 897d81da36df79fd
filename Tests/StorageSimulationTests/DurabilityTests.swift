import StorageIO
import Testing
@testable import StorageSimulation

/// The durability rules one at a time: flush, FUA, torn and untorn crashes, the flush
/// watermark, and what close and resize keep.
@Suite struct DurabilityTests {
    let seeds = SimulationSeed.seeds(default: 1...100)

    @Test func flushedWriteAlwaysSurvivesAndUnflushedOneMayNot() throws {
        let loop = try makeLoop()
        let old = pattern(1024, seed: 1), new = pattern(1024, seed: 2)
        var outcomes = Set<[UInt8]>()
        for seed in seeds {
            let disk = SimulatedDisk(size: 8192, seed: seed, loop: loop)
            try disk.write(bytes: old, at: 1024)
            try disk.flush()
            try disk.write(bytes: new, at: 1024)
            #expect(try disk.readBytes(at: 1024, count: 1024) == new, "reads see the cached write")
            #expect(disk.durableContents(at: 1024, count: 1024) == old)
            disk.crash(torn: false)
            let after = try disk.restart().readBytes(at: 1024, count: 1024)
            #expect(after == old || after == new, "\(disk.replayHint)")
            outcomes.insert(after)
        }
        #expect(outcomes.count == 2, "over many seeds an unflushed write is sometimes kept, sometimes lost")
    }

    @Test func writeFlushedThenCrashedReadsBackExactly() throws {
        let loop = try makeLoop()
        for seed in seeds {
            let disk = SimulatedDisk(size: 8192, seed: seed, loop: loop)
            let data = pattern(3000, seed: seed)
            try disk.write(bytes: data, at: 77)
            try disk.flush()
            disk.crash(torn: true)
            #expect(try disk.restart().readBytes(at: 77, count: 3000) == data, "\(disk.replayHint)")
        }
    }

    @Test func fuaWriteSurvivesWithoutFlush() throws {
        let loop = try makeLoop()
        for seed in seeds {
            let disk = SimulatedDisk(size: 8192, seed: seed, loop: loop)
            let data = pattern(2048, seed: seed)
            try disk.write(bytes: pattern(4096, seed: ~seed), at: 0) // pending under the FUA write
            try disk.write(bytes: data, at: 1024, fua: true)
            #expect(disk.durableContents(at: 1024, count: 2048) == data)
            disk.crash(torn: true)
            #expect(try disk.restart().readBytes(at: 1024, count: 2048) == data, "\(disk.replayHint)")
        }
    }

    @Test func fuaIsIgnoredWhereTheDiskCannotDoIt() throws {
        let loop = try makeLoop()
        var lost = false
        for seed in seeds {
            let disk = SimulatedDisk(SimulatedDisk.Configuration(size: 4096, canFUA: false), seed: seed, loop: loop)
            try disk.write(bytes: pattern(512, seed: 3), at: 0, fua: true)
            disk.crash()
            if try disk.restart().readBytes(at: 0, count: 512) == [UInt8](repeating: 0, count: 512) { lost = true }
        }
        #expect(lost, "a FUA write on a disk without FUA is an ordinary cached write")
    }

    @Test func untornCrashKeepsAMultiSectorWriteWholeOrNotAtAll() throws {
        let loop = try makeLoop()
        let data = pattern(8 * 512, seed: 11)
        var kinds = Set<String>()
        for seed in seeds {
            let disk = SimulatedDisk(size: 16 * 512, seed: seed, loop: loop)
            try disk.write(bytes: data, at: 512)
            disk.crash(torn: false)
            let after = try disk.restart().readBytes(at: 512, count: data.count)
            if after == data { kinds.insert("applied") }
            else if after.allSatisfy({ $0 == 0 }) { kinds.insert("dropped") }
            else { Issue.record("untorn crash left a mix; \(disk.replayHint)") }
        }
        #expect(kinds == ["applied", "dropped"])
    }

    @Test func tornCrashMixesSectorsButEachSectorIsOldOrNew() throws {
        let loop = try makeLoop()
        let old = pattern(8 * 512, seed: 21), new = pattern(8 * 512, seed: 22)
        var mixed = 0
        for seed in seeds {
            let disk = SimulatedDisk(size: 16 * 512, seed: seed, loop: loop)
            try disk.write(bytes: old, at: 0)
            try disk.flush()
            try disk.write(bytes: new, at: 0)
            disk.crash(torn: true)
            let after = try disk.restart().readBytes(at: 0, count: new.count)
            var fromNew = 0
            for sector in 0..<8 {
                let range = sector * 512..<(sector + 1) * 512
                let bytes = Array(after[range])
                if bytes == Array(new[range]) { fromNew += 1 }
                else if bytes != Array(old[range]) { Issue.record("sector \(sector) is neither old nor new; \(disk.replayHint)") }
            }
            if fromNew > 0 && fromNew < 8 { mixed += 1 }
        }
        #expect(mixed > 0, "tearing never mixed sectors")
    }

    /// A flush covers the writes that completed before it was submitted, not those that
    /// complete while it is in flight.
    @Test func flushCoversOnlyWritesCompletedBeforeItsSubmission() throws {
        let loop = try makeLoop()
        let a = pattern(512, seed: 31), b = pattern(512, seed: 32)
        var bLost = false
        for seed in seeds {
            let disk = SimulatedDisk(size: 4096, seed: seed, loop: loop)
            try disk.write(bytes: a, at: 0)
            let buffer = TestBuffer(b)
            let write = IORequest(.write, buffer: buffer.pointer, length: 512, offset: 512)
            let flush = IORequest(.flush)
            // Both complete on the next turn, the write first: it completes before the flush
            // does, but after the flush was submitted, so the flush does not cover it.
            disk.submit(write)
            disk.submit(flush)
            loop.run { flush.isComplete && write.isComplete }
            #expect(flush.failure == nil && write.failure == nil)
            disk.crash(torn: false)
            let rebooted = disk.restart()
            #expect(try rebooted.readBytes(at: 0, count: 512) == a, "\(disk.replayHint)")
            if try rebooted.readBytes(at: 512, count: 512) != b { bLost = true }
        }
        #expect(bLost, "the write submitted after the flush was always made durable by it")
    }

    /// A write still in flight at the crash may or may not reach the media, and never completes.
    @Test func inFlightWriteMayLandButNeverCompletes() throws {
        let loop = try makeLoop()
        let data = pattern(1024, seed: 51)
        var outcomes = Set<Bool>()
        for seed in seeds {
            let disk = SimulatedDisk(size: 4096, seed: seed, loop: loop, faults: FaultPlan().delaying(maxTurns: 3))
            let buffer = TestBuffer(data)
            let write = IORequest(.write, buffer: buffer.pointer, length: 1024, offset: 1024)
            var completed = false
            write.onComplete = { _ in completed = true }
            disk.submit(write)
            #expect(disk.inFlightCount == 1)
            disk.crash(torn: false)
            spin(loop, turns: 10)
            #expect(!completed && !write.isComplete, "\(disk.replayHint)")
            #expect(disk.crashRecords.map(\.wasInFlight) == [true])
            let after = try disk.restart().readBytes(at: 1024, count: 1024)
            #expect(after == data || after.allSatisfy { $0 == 0 }, "\(disk.replayHint)")
            outcomes.insert(after == data)
        }
        #expect(outcomes.count == 2, "an in-flight write always or never landed")
    }

    @Test func discardZeroesAndIsCachedLikeAWriteOfZeros() throws {
        let loop = try makeLoop()
        var outcomes = Set<Bool>()
        for seed in seeds {
            let disk = SimulatedDisk(size: 4096, seed: seed, loop: loop)
            let data = pattern(2048, seed: 41)
            try disk.write(bytes: data, at: 0)
            try disk.flush()
            try disk.discard(at: 512, length: 1024)
            #expect(try disk.readBytes(at: 512, count: 1024) == [UInt8](repeating: 0, count: 1024))
            disk.crash(torn: false)
            let after = try disk.restart().readBytes(at: 512, count: 1024)
            #expect(after == Array(data[512..<1536]) || after.allSatisfy { $0 == 0 })
            outcomes.insert(after.allSatisfy { $0 == 0 })
        }
        #expect(outcomes.count == 2)
    }

    @Test func closeKeepsCachedWritesForTheCrashToDecide() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 4096, seed: 5, loop: loop)
        try disk.write(bytes: pattern(512, seed: 1), at: 0)
        disk.close()
        #expect(disk.pendingWriteCount == 1)
        disk.crash(torn: false)
        #expect(disk.crashRecords.count == 1)
    }

    @Test func resizeGrowsWithZerosAndShrinkForgets() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 4096, seed: 5, loop: loop)
        let data = pattern(1024, seed: 9)
        try disk.write(bytes: data, at: 3072)
        try disk.resize(to: 8192)
        #expect(try disk.readBytes(at: 3072, count: 1024) == data)
        #expect(try disk.readBytes(at: 4096, count: 4096) == [UInt8](repeating: 0, count: 4096))
        try disk.resize(to: 3300)
        try disk.resize(to: 8192)
        #expect(try disk.readBytes(at: 3072, count: 228) == Array(data[0..<228]))
        #expect(try disk.readBytes(at: 3300, count: 796) == [UInt8](repeating: 0, count: 796))
        #expect(blockIOError { _ = try disk.readBytes(at: 8192, count: 1) } != nil)
    }

    @Test func restartKeepsTheShapeAndContinuesTheTrace() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(SimulatedDisk.Configuration(size: 4096, alignment: 512), seed: 8, loop: loop)
        try disk.resize(to: 8192)
        try disk.write(bytes: pattern(512, seed: 2), at: 4096, fua: true)
        disk.crash()
        let rebooted = disk.restart()
        #expect(rebooted.size == 8192)
        #expect(rebooted.generation == 1)
        #expect(rebooted.capabilities == disk.capabilities)
        #expect(rebooted.trace.starts(with: disk.trace))
        #expect(rebooted.trace.last == "restart generation=1")
        #expect(!rebooted.isClosed && !rebooted.isCrashed)
    }
}
