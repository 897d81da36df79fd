import Foundation
import StorageIO
import Testing

/// Bad requests get a typed error naming what was wrong, never a crash.
@Suite("BlockIO bad input")
struct BadInputTests {
    @Test("unaligned O_DIRECT offset, length and buffer", arguments: IOEngine.allCases)
    func unaligned(engine: IOEngine) throws {
        let dir = try ScratchDirectory()
        let store = try makeStore(dir, size: 1 << 20, engine: engine)
        defer { store.close() }
        let alignment = store.capabilities.alignment
        #expect(alignment >= 512)
        let buffer = AlignedBuffer(count: 8192)
        let error1 = #expect(throws: BlockIOError.self) { try store.read(into: buffer.bytes, at: 100) }
        #expect(error1 == .unaligned(store: store.name, operation: .read, field: "offset", value: 100, alignment: alignment))
        let short = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<100])
        let error2 = #expect(throws: BlockIOError.self) { try store.read(into: short, at: 0) }
        #expect(error2 == .unaligned(store: store.name, operation: .read, field: "length", value: 100, alignment: alignment))
        let shifted = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[1..<(1 + alignment)])
        let error3 = #expect(throws: BlockIOError.self) { try store.write(UnsafeRawBufferPointer(shifted), at: 0) }
        guard case .unaligned(_, .write, "buffer address", _, _) = error3 else {
            Issue.record("expected an unaligned buffer error, got \(String(describing: error3))")
            return
        }
        #expect(error3!.description.contains("buffer address"))
    }

    @Test("read and write past the end")
    func pastEnd() throws {
        let dir = try ScratchDirectory()
        let store = try makeStore(dir, size: 1 << 20, engine: nil)
        defer { store.close() }
        let buffer = AlignedBuffer(count: 8192)
        let error = #expect(throws: BlockIOError.self) { try store.read(into: buffer.bytes, at: (1 << 20) - 4096) }
        #expect(error == .outOfRange(store: store.name, operation: .read, offset: (1 << 20) - 4096, length: 8192, size: 1 << 20))
        #expect(throws: BlockIOError.self) { try store.write(buffer.raw, at: UInt64.max - 4095) }
        #expect(error?.description.contains("past the end") == true)
    }

    @Test("write, discard and resize on a read-only store")
    func readOnly() throws {
        let dir = try ScratchDirectory()
        _ = try makeStore(dir, size: 1 << 20, engine: nil)
        let store = try makeStore(dir, size: 1 << 20, engine: nil, readOnly: true)
        defer { store.close() }
        let buffer = AlignedBuffer(count: 4096)
        let error = #expect(throws: BlockIOError.self) { try store.write(buffer.raw, at: 0) }
        #expect(error == .readOnly(store: store.name, operation: .write))
        #expect(throws: BlockIOError.readOnly(store: store.name, operation: .discard)) {
            try store.discard(at: 0, length: 4096)
        }
        #expect(throws: BlockIOError.self) { try store.resize(to: 2 << 20) }
        try store.read(into: buffer.bytes, at: 0)
    }

    @Test("every operation on a closed store", arguments: IOEngine.allCases)
    func closed(engine: IOEngine) throws {
        let dir = try ScratchDirectory()
        let store = try makeStore(dir, size: 1 << 20, engine: engine)
        store.close()
        store.close() // twice is harmless
        let buffer = AlignedBuffer(count: 4096)
        #expect(throws: BlockIOError.closed(store: store.name, operation: .read)) { try store.read(into: buffer.bytes, at: 0) }
        #expect(throws: BlockIOError.closed(store: store.name, operation: .write)) { try store.write(buffer.raw, at: 0) }
        #expect(throws: BlockIOError.closed(store: store.name, operation: .flush)) { try store.flush() }
        #expect(throws: BlockIOError.self) { try store.resize(to: 0) }
    }

    @Test("a transfer above the maximum")
    func tooLarge() throws {
        let dir = try ScratchDirectory()
        let store = try makeStore(dir, size: 64 << 20, engine: nil)
        defer { store.close() }
        let max = store.capabilities.transferBytesMax
        let buffer = AlignedBuffer(count: max + 4096)
        #expect(throws: BlockIOError.transferTooLarge(store: store.name, length: max + 4096, maximum: max)) {
            try store.read(into: buffer.bytes, at: 0)
        }
    }

    @Test("opening a missing file or a directory names the path and errno")
    func openErrors() throws {
        let dir = try ScratchDirectory()
        let loop = try EventLoop()
        let missing = dir.file("missing.img")
        #expect(throws: BlockIOError.open(path: missing, errno: ENOENT, detail: "")) {
            _ = try LocalFile.open(missing, on: loop)
        }
        let error = #expect(throws: BlockIOError.self) { _ = try LocalFile.open(dir.path, on: loop, options: .init(readOnly: true)) }
        #expect(error?.description.contains(dir.path) == true)
    }
}
