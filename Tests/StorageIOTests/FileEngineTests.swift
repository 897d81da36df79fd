import Foundation
import StorageIO
import Testing

/// Every engine moves the same bytes: round trips, many in flight, flush, FUA, discard, resize.
@Suite("Local file engines")
struct FileEngineTests {
    static let engines: [IOEngine] = IOEngine.allCases

    @Test("write then read back", arguments: engines)
    func roundTrip(engine: IOEngine) throws {
        let dir = try ScratchDirectory()
        let store = try makeStore(dir, size: 1 << 20, engine: engine)
        defer { store.close() }
        #expect(store.engine == engine)
        #expect(store.isDirect)
        let data = AlignedBuffer(count: 64 << 10)
        data.fillPattern(seed: 7)
        try store.write(data.raw, at: 128 << 10)
        try store.flush()
        let back = AlignedBuffer(count: 64 << 10)
        try store.read(into: back.bytes, at: 128 << 10)
        #expect(back.array == data.array)
    }

    @Test("128 requests in flight complete, each exactly once, with the right data", arguments: engines)
    func manyInFlight(engine: IOEngine) throws {
        let dir = try ScratchDirectory()
        let blocks = 256
        let store = try makeStore(dir, size: UInt64(blocks) * 4096, engine: engine)
        defer { store.close() }
        let pool = AlignedBufferPool(bufferSize: 4096, count: 128)
        pool.register(with: store.loop)
        var completions = [Int](repeating: 0, count: 128)
        var failures: [BlockIOError] = []
        // Write block b with the byte (b % 251) + 1 using 128 slots over 256 blocks.
        func runPass(_ operation: IOOperation) {
            var next = 0
            var inflight = 0
            let requests = (0..<128).map { slot -> IORequest in
                let r = IORequest()
                r.tag = slot
                r.buffer = pool.buffer(at: slot)
                r.length = 4096
                r.operation = operation
                return r
            }
            func issue(_ r: IORequest) {
                let block = next
                next += 1
                r.offset = UInt64(block) * 4096
                if operation == .write { memset(r.buffer!, Int32(block % 251 + 1), 4096) }
                inflight += 1
                store.submit(r)
            }
            for r in requests {
                r.onComplete = { r in
                    inflight -= 1
                    completions[r.tag] += 1
                    if let f = r.failure { failures.append(f) }
                    if operation == .read {
                        let block = Int(r.offset / 4096)
                        let bytes = UnsafeRawBufferPointer(start: r.buffer, count: 4096)
                        if !bytes.allSatisfy({ $0 == UInt8(block % 251 + 1) }) {
                            failures.append(.io(store: "verify", operation: .read, offset: r.offset, length: 4096, errno: EIO))
                        }
                    }
                    if next < blocks { issue(r) }
                }
                issue(r)
            }
            store.loop.run(until: { inflight == 0 })
        }
        runPass(.write)
        try store.flush()
        runPass(.read)
        #expect(failures.isEmpty, "\(failures)")
        #expect(completions.reduce(0, +) == 2 * blocks)
    }

    @Test("FUA write, discard to zeros, grow and shrink", arguments: engines)
    func fuaDiscardResize(engine: IOEngine) throws {
        let dir = try ScratchDirectory()
        let store = try makeStore(dir, size: 1 << 20, engine: engine)
        defer { store.close() }
        let data = AlignedBuffer(count: 8192, fill: 0xAB)
        try store.write(data.raw, at: 0, fua: true)
        try store.discard(at: 0, length: 4096)
        let back = AlignedBuffer(count: 8192, fill: 0x11)
        try store.read(into: back.bytes, at: 0)
        #expect(back.array[..<4096].allSatisfy { $0 == 0 })
        #expect(back.array[4096...].allSatisfy { $0 == 0xAB })
        try store.resize(to: 2 << 20)
        #expect(store.size == 2 << 20)
        try store.read(into: back.bytes, at: (2 << 20) - 8192)
        #expect(back.array.allSatisfy { $0 == 0 })
        try store.resize(to: 4096)
        #expect(throws: BlockIOError.self) { try store.read(into: back.bytes, at: 0) }
    }
}
