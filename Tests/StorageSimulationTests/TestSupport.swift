import StorageIO
import StorageSimulation

/// Loops for simulation tests: epoll, so the tests run where io_uring is disabled too (the
/// simulated disk only posts completions, it never touches the ring).
func makeLoop() throws -> EventLoop {
    try EventLoop(driver: .epoll)
}

/// A page-aligned buffer, so the disk's alignment checks judge offsets and lengths alone.
final class TestBuffer {
    let raw: UnsafeMutableRawBufferPointer

    init(count: Int) {
        raw = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 4096)
        raw.initializeMemory(as: UInt8.self, repeating: 0)
    }

    convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count)
        for (index, byte) in bytes.enumerated() { raw[index] = byte }
    }

    deinit { raw.deallocate() }

    var pointer: UnsafeMutableRawPointer { raw.baseAddress! }
    func bytes(_ count: Int) -> [UInt8] { Array(raw.prefix(count)) }
}

extension BlockIO {
    /// Writes `bytes` synchronously from an aligned buffer.
    func write(bytes: [UInt8], at offset: UInt64, fua: Bool = false) throws {
        let buffer = TestBuffer(bytes)
        try write(UnsafeRawBufferPointer(rebasing: buffer.raw.prefix(bytes.count)), at: offset, fua: fua)
    }

    /// Reads `count` bytes synchronously into an aligned buffer.
    func readBytes(at offset: UInt64, count: Int) throws -> [UInt8] {
        let buffer = TestBuffer(count: count)
        try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer.raw.prefix(count)), at: offset)
        return buffer.bytes(count)
    }
}

/// The error a throwing call raised, as a BlockIOError (nil if it did not throw one).
func blockIOError(_ body: () throws -> Void) -> BlockIOError? {
    do {
        try body()
        return nil
    } catch let error as BlockIOError {
        return error
    } catch {
        return nil
    }
}

/// `count` bytes of a seeded pattern: distinct per seed, so versions are told apart.
func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
    var random = SplitMix64(seed: seed)
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { random.fill($0) }
    return bytes
}

/// Runs loop turns without blocking until `done` holds or `turns` ran out.
func spin(_ loop: EventLoop, turns: Int = 1_000, until done: () -> Bool = { false }) {
    var left = turns
    while !done() && left > 0 {
        loop.runOnce(timeoutNanoseconds: 0)
        left -= 1
    }
}
