import CZlib
import Glibc
import StorageIO
import Testing

@Suite("Limits, buffers and shims")
struct SupportTests {
    @Test("limits relate as the engines assume")
    func limits() {
        #expect(StorageLimits.bufferAlignment.nonzeroBitCount == 1)
        #expect(StorageLimits.fileTransferBytesMax % StorageLimits.bufferAlignment == 0)
        #expect(Int(StorageLimits.ringEntries) >= 128, "QD128 must fit in one ring")
        #expect(Int(StorageLimits.aioDepthMax) >= StorageLimits.inflightCountMax)
        #expect(Int(StorageLimits.ringEntries) >= StorageLimits.inflightCountMax)
        #expect(StorageLimits.threadPoolWorkers > 0)
    }

    @Test("buffer pool hands out distinct aligned buffers and takes them back")
    func pool() {
        let pool = AlignedBufferPool(bufferSize: 8192, count: 4)
        var taken: [UnsafeMutableRawPointer] = []
        while let b = pool.take() { taken.append(b) }
        #expect(taken.count == 4)
        #expect(Set(taken).count == 4)
        #expect(taken.allSatisfy { UInt(bitPattern: $0) % 4096 == 0 })
        for b in taken { pool.give(b) }
        #expect(pool.available == 4)
    }

    @Test("registered buffers are used and data stays correct")
    func registered() throws {
        let dir = try ScratchDirectory()
        let store = try makeStore(dir, size: 1 << 20, engine: .uring)
        defer { store.close() }
        let pool = AlignedBufferPool(bufferSize: 4096, count: 8)
        #expect(pool.register(with: store.loop))
        #expect(store.loop.fixedBuffersRegistered)
        let buffer = pool.take()!
        memset(buffer, 0x5A, 4096)
        try store.write(UnsafeRawBufferPointer(start: buffer, count: 4096), at: 8192)
        memset(buffer, 0, 4096)
        try store.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: 4096), at: 8192)
        #expect(UnsafeRawBufferPointer(start: buffer, count: 4096).allSatisfy { $0 == 0x5A })
    }

    @Test("zlib shim links: crc32 of a known string")
    func zlib() {
        let bytes = Array("123456789".utf8)
        let crc = bytes.withUnsafeBufferPointer { crc32(0, $0.baseAddress, UInt32($0.count)) }
        #expect(crc == 0xCBF4_3926)
    }
}
