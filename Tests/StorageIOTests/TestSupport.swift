import Foundation
import StorageIO
import Testing

/// A scratch directory on the test machine's real filesystem (O_DIRECT works there),
/// removed when the value is dropped.
final class ScratchDirectory {
    let path: String

    init(on base: String = NSTemporaryDirectory()) throws {
        path = (base as NSString).appendingPathComponent("sm-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}

/// A page-aligned buffer for O_DIRECT, freed with the value.
final class AlignedBuffer {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int, fill: UInt8 = 0) {
        bytes = .allocate(byteCount: count, alignment: 4096)
        bytes.initializeMemory(as: UInt8.self, repeating: fill)
    }

    deinit { bytes.deallocate() }

    var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(bytes) }
    var array: [UInt8] { Array(bytes) }

    /// Deterministic content that differs per offset, so misplaced data is caught.
    func fillPattern(seed: UInt64) {
        var x = seed | 1
        for i in 0..<bytes.count {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            bytes[i] = UInt8(truncatingIfNeeded: x)
        }
    }
}

/// Opens a fresh file of `size` bytes with the given engine on a new loop.
func makeStore(_ dir: ScratchDirectory, name: String = "disk.img", size: UInt64, engine: IOEngine?,
               driver: EventLoop.Driver? = nil, readOnly: Bool = false) throws -> LocalFileStore {
    let path = dir.file(name)
    if !FileManager.default.fileExists(atPath: path) {
        FileManager.default.createFile(atPath: path, contents: nil)
        truncate(path, off_t(size))
    }
    let loop = try EventLoop(driver: driver ?? (engine == .uring ? .uring : nil))
    return try LocalFile.open(path, on: loop, options: .init(readOnly: readOnly, engine: engine))
}

/// Writes one 4 KiB block of `fill` at `offset` and reads it back; true when it matches.
func roundTrips(_ store: any BlockIO, at offset: UInt64, fill: UInt8) throws -> Bool {
    let data = AlignedBuffer(count: 4096, fill: fill)
    try store.write(data.raw, at: offset)
    let back = AlignedBuffer(count: 4096)
    try store.read(into: back.bytes, at: offset)
    return back.array == data.array
}

func expectRoundTrip(_ store: any BlockIO, at offset: UInt64, fill: UInt8) throws {
    #expect(try roundTrips(store, at: offset, fill: fill))
}
