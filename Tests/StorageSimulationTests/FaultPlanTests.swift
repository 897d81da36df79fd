import Glibc
import StorageIO
import Testing
@testable import StorageSimulation

/// Each fault of a plan gives the typed error a real file store would, and does to the data
/// what the plan says.
@Suite struct FaultPlanTests {
    @Test func failedFlushReportsEIOAndDropsThePendingWrites() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 4096, seed: 1, loop: loop, faults: FaultPlan().failingFlush(number: 2))
        let a = pattern(512, seed: 1), b = pattern(512, seed: 2), c = pattern(512, seed: 3)
        try disk.write(bytes: a, at: 0)
        try disk.flush()
        try disk.write(bytes: b, at: 0)
        try disk.write(bytes: c, at: 1024)
        let error = blockIOError { try disk.flush() }
        #expect(error == .io(store: disk.name, operation: .flush, offset: 0, length: 0, errno: EIO))
        #expect(error?.errno == EIO)
        #expect(disk.pendingWriteCount == 0)
        // fsyncgate: the data is gone, not merely still dirty.
        #expect(try disk.readBytes(at: 0, count: 512) == a)
        #expect(try disk.readBytes(at: 1024, count: 512) == [UInt8](repeating: 0, count: 512))
        // The next flush succeeds and the store keeps working.
        try disk.write(bytes: c, at: 2048)
        try disk.flush()
        disk.crash()
        let rebooted = disk.restart()
        #expect(try rebooted.readBytes(at: 0, count: 512) == a)
        #expect(try rebooted.readBytes(at: 2048, count: 512) == c)
    }

    @Test func noSpaceOnceMoreThanNBytesWereWritten() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 16384, seed: 1, loop: loop, faults: FaultPlan().noSpace(afterBytes: 4096))
        try disk.write(bytes: pattern(4096, seed: 1), at: 0)
        let error = blockIOError { try disk.write(bytes: pattern(512, seed: 2), at: 8192) }
        #expect(error == .noSpace(store: disk.name, operation: .write, offset: 8192, length: 512))
        #expect(error?.errno == ENOSPC)
        #expect(try disk.readBytes(at: 8192, count: 512) == [UInt8](repeating: 0, count: 512))
        // Reads, flushes and discards still work.
        try disk.flush()
        try disk.discard(at: 0, length: 512)
    }

    @Test func readAndWriteEIOOnARange() throws {
        let loop = try makeLoop()
        let plan = FaultPlan().failingReads(in: 1024..<2048).failingWrites(in: 3072..<3073)
        let disk = SimulatedDisk(size: 8192, seed: 1, loop: loop, faults: plan)
        _ = try disk.readBytes(at: 0, count: 1024)
        _ = try disk.readBytes(at: 2048, count: 1024)
        #expect(blockIOError { _ = try disk.readBytes(at: 2000, count: 100) }
            == .io(store: disk.name, operation: .read, offset: 2000, length: 100, errno: EIO))
        let old = try disk.readBytes(at: 3000, count: 200)
        #expect(blockIOError { try disk.write(bytes: pattern(200, seed: 4), at: 3000) }
            == .io(store: disk.name, operation: .write, offset: 3000, length: 200, errno: EIO))
        #expect(try disk.readBytes(at: 3000, count: 200) == old, "a failed write changes nothing")
        #expect(blockIOError { try disk.discard(at: 3072, length: 512) }?.errno == EIO)
        try disk.write(bytes: pattern(72, seed: 5), at: 3000)
    }

    @Test func nthOperationFails() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 8192, seed: 1, loop: loop,
                                 faults: FaultPlan().failingWrite(number: 2).failingRead(number: 3))
        var writeErrors: [Int32?] = []
        for index in 0..<3 {
            writeErrors.append(blockIOError { try disk.write(bytes: [1], at: UInt64(index)) }?.errno)
        }
        #expect(writeErrors == [nil, EIO, nil])
        var readErrors: [Int32?] = []
        for _ in 0..<4 { readErrors.append(blockIOError { _ = try disk.readBytes(at: 0, count: 1) }?.errno) }
        #expect(readErrors == [nil, nil, EIO, nil])
    }

    @Test func probabilisticFaultsFollowTheSeed() throws {
        let loop = try makeLoop()
        func failures(seed: UInt64) throws -> [Bool] {
            let disk = SimulatedDisk(size: 8192, seed: seed, loop: loop, faults: FaultPlan().failingWrites(probability: 0.3))
            return (0..<200).map { index in blockIOError { try disk.write(bytes: [7], at: UInt64(index)) } != nil }
        }
        let first = try failures(seed: 99)
        #expect(try failures(seed: 99) == first)
        let count = first.filter { $0 }.count
        #expect((30...90).contains(count), "\(count) of 200 writes failed at p=0.3")
        #expect(try failures(seed: 100) != first)
    }

    @Test func powerLossCutsInAtTheNthRequest() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 8192, seed: 3, loop: loop, faults: FaultPlan().powerLoss(afterRequests: 2))
        let data = pattern(512, seed: 1)
        try disk.write(bytes: data, at: 0)
        try disk.flush()
        #expect(blockIOError { try disk.write(bytes: data, at: 512) } == .closed(store: disk.name, operation: .write))
        #expect(disk.isCrashed)
        let rebooted = disk.restart()
        #expect(try rebooted.readBytes(at: 0, count: 512) == data)
        #expect(try rebooted.readBytes(at: 512, count: 512) == [UInt8](repeating: 0, count: 512))
    }

    @Test func plansCompose() {
        let plan = FaultPlan().failingReads(in: 0..<512).noSpace(afterBytes: 100)
            + FaultPlan().failingFlush(number: 1).noSpace(afterBytes: 50).delaying(maxTurns: 3)
        #expect(plan.ioFaults == [IOFault(.read, .range(0..<512))])
        #expect(plan.flushFaults == [.nth(1)])
        #expect(plan.noSpaceAfterBytes == 50)
        #expect(plan.maxDelayTurns == 3 && plan.reorder)
        #expect(FaultPlan.none == FaultPlan())
    }
}
