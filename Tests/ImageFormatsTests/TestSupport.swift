import Foundation
import TestSupport
import StorageIO
import Testing

@testable import ImageFormats

/// One loop per test: stores are confined to their loop's thread.
func makeLoop() throws -> EventLoop { try EventLoop() }

func openStore(_ path: String, on loop: EventLoop, create: Bool = false, readOnly: Bool = false) throws -> any BlockIO {
    try LocalFile.open(path, on: loop, options: .init(readOnly: readOnly, create: create))
}


/// Sector-filled pattern bytes that name their origin (seed, sector), so a misplaced
/// sector shows up as a mismatch.
func pattern(count: Int, seed: UInt64, at offset: UInt64) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    for s in 0..<(count / 512) {
        var r = SeededGenerator(seed: seed &* 1_000_003 &+ (offset / 512 + UInt64(s)))
        for i in stride(from: 0, to: 512, by: 8) {
            let v = r.next()
            for k in 0..<8 { out[s * 512 + i + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
        }
    }
    return out
}

extension DiskImage {
    func readBytes(at offset: UInt64, count: Int) throws -> [UInt8] {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 4096)
        defer { buf.deallocate() }
        try read(into: buf, at: VirtualOffset(offset))
        return Array(buf)
    }

    func writeBytes(_ bytes: [UInt8], at offset: UInt64) throws {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 4096)
        defer { buf.deallocate() }
        buf.copyBytes(from: bytes)
        try write(UnsafeRawBufferPointer(buf), at: VirtualOffset(offset))
    }
}

/// The disk as the guest should see it: a sparse map of written sectors over a base.
struct ReferenceDisk {
    var sectors: [UInt64: [UInt8]] = [:]
    let size: UInt64

    mutating func write(_ bytes: [UInt8], at offset: UInt64) {
        for s in 0..<(bytes.count / 512) { sectors[offset / 512 + UInt64(s)] = Array(bytes[(s * 512)..<((s + 1) * 512)]) }
    }

    func read(at offset: UInt64, count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        for s in 0..<(count / 512) {
            if let d = sectors[offset / 512 + UInt64(s)] { out.replaceSubrange((s * 512)..<((s + 1) * 512), with: d) }
        }
        return out
    }

    /// Writes the whole reference as a raw file.
    func writeRaw(_ path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.truncate(atOffset: size)
        for (s, d) in sectors {
            try h.seek(toOffset: s * 512)
            h.write(Data(d))
        }
        try h.close()
    }
}

/// A plain in-memory store: a fast, never-failing parent for crash tests, where only the
/// child's disk needs to be simulated.
final class MemoryStore: BlockIO {
    let name: String
    let loop: EventLoop
    var bytes: [UInt8]
    private(set) var isClosed = false
    let capabilities = BlockIOCapabilities(alignment: 1, transferBytesMax: 8 << 20, canTrim: false, canFUA: true,
                                           isReadOnly: false)

    init(name: String, bytes: [UInt8], loop: EventLoop) {
        self.name = name
        self.bytes = bytes
        self.loop = loop
    }

    var size: UInt64 { UInt64(bytes.count) }

    func submit(_ request: IORequest) {
        request.begin()
        if let failure = validate(request) {
            loop.post(request, result: -failure.errno, failure: failure)
            return
        }
        let at = Int(request.offset), n = request.length
        switch request.operation {
        case .read:
            bytes.withUnsafeBytes { request.buffer!.copyMemory(from: $0.baseAddress! + at, byteCount: n) }
        case .write:
            bytes.withUnsafeMutableBytes { ($0.baseAddress! + at).copyMemory(from: request.buffer!, byteCount: n) }
        case .flush, .discard:
            break
        }
        loop.post(request, result: Int32(request.operation == .flush ? 0 : n), failure: nil)
    }

    func resize(to newSize: UInt64) throws {
        if newSize < size { bytes.removeLast(bytes.count - Int(newSize)) } else {
            bytes += [UInt8](repeating: 0, count: Int(newSize - size))
        }
    }

    func close() { isClosed = true }
}
