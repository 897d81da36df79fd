import StorageIO
import Testing
@testable import StorageSimulation

/// Bad input gets the same typed errors a real store gives, through the sync helpers, and
/// never completes inside submit.
@Suite struct ValidationTests {
    @Test func closedStoreRefusesEverything() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 4096, seed: 1, loop: loop)
        disk.close()
        #expect(blockIOError { _ = try disk.readBytes(at: 0, count: 512) } == .closed(store: disk.name, operation: .read))
        #expect(blockIOError { try disk.write(bytes: [1], at: 0) } == .closed(store: disk.name, operation: .write))
        #expect(blockIOError { try disk.flush() } == .closed(store: disk.name, operation: .flush))
        #expect(blockIOError { try disk.resize(to: 8192) } == .closed(store: disk.name, operation: .write))
    }

    @Test func readOnlyStoreRefusesWritesAndDiscards() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(SimulatedDisk.Configuration(size: 4096, isReadOnly: true), seed: 1, loop: loop)
        _ = try disk.readBytes(at: 0, count: 512)
        try disk.flush()
        #expect(blockIOError { try disk.write(bytes: [1], at: 0) } == .readOnly(store: disk.name, operation: .write))
        #expect(blockIOError { try disk.discard(at: 0, length: 512) } == .readOnly(store: disk.name, operation: .discard))
        #expect(blockIOError { try disk.resize(to: 8192) } == .readOnly(store: disk.name, operation: .write))
    }

    @Test func outOfRange() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 4096, seed: 1, loop: loop)
        #expect(blockIOError { _ = try disk.readBytes(at: 3584, count: 1024) }
            == .outOfRange(store: disk.name, operation: .read, offset: 3584, length: 1024, size: 4096))
        #expect(blockIOError { try disk.write(bytes: [1], at: 4096) }
            == .outOfRange(store: disk.name, operation: .write, offset: 4096, length: 1, size: 4096))
        #expect(blockIOError { try disk.discard(at: UInt64.max - 10, length: 512) }
            == .outOfRange(store: disk.name, operation: .discard, offset: UInt64.max - 10, length: 512, size: 4096))
    }

    @Test func unalignedOffsetLengthAndBuffer() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(SimulatedDisk.Configuration(size: 8192, alignment: 512), seed: 1, loop: loop)
        #expect(blockIOError { _ = try disk.readBytes(at: 100, count: 512) }
            == .unaligned(store: disk.name, operation: .read, field: "offset", value: 100, alignment: 512))
        #expect(blockIOError { try disk.write(bytes: [UInt8](repeating: 1, count: 100), at: 0) }
            == .unaligned(store: disk.name, operation: .write, field: "length", value: 100, alignment: 512))
        let buffer = TestBuffer(count: 2048)
        let misaligned = UnsafeMutableRawBufferPointer(start: buffer.pointer + 8, count: 512)
        let error = blockIOError { try disk.read(into: misaligned, at: 0) }
        if case let .unaligned(_, operation, field, _, alignment)? = error {
            #expect(operation == .read && field == "buffer address" && alignment == 512)
        } else {
            Issue.record("expected an unaligned buffer error, got \(String(describing: error))")
        }
        #expect(blockIOError { try disk.resize(to: 9000) }
            == .unaligned(store: disk.name, operation: .write, field: "new size", value: 9000, alignment: 512))
        try disk.write(bytes: [UInt8](repeating: 1, count: 512), at: 512)
    }

    @Test func transferTooLarge() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(SimulatedDisk.Configuration(size: 65536, transferBytesMax: 4096), seed: 1, loop: loop)
        #expect(blockIOError { try disk.write(bytes: [UInt8](repeating: 1, count: 8192), at: 0) }
            == .transferTooLarge(store: disk.name, length: 8192, maximum: 4096))
    }

    @Test func unsupportedDiscardAndResize() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(SimulatedDisk.Configuration(size: 4096, canTrim: false, canResize: false),
                                 seed: 1, loop: loop)
        #expect(blockIOError { try disk.discard(at: 0, length: 512) } == .unsupported(store: disk.name, what: "discard"))
        #expect(blockIOError { try disk.resize(to: 8192) } == .unsupported(store: disk.name, what: "resize"))
    }

    @Test func rejectionsAndSuccessesCompleteLaterNotInsideSubmit() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 4096, seed: 1, loop: loop)
        for request in [IORequest(.flush), IORequest(.read, length: 8192, offset: 0)] {
            var completed = false
            request.onComplete = { _ in completed = true }
            disk.submit(request)
            #expect(!completed && !request.isComplete)
            loop.run { request.isComplete }
            #expect(completed)
        }
    }

    @Test func crashedStoreFailsWithClosed() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 4096, seed: 1, loop: loop)
        disk.crash()
        #expect(blockIOError { try disk.flush() } == .closed(store: disk.name, operation: .flush))
    }
}
