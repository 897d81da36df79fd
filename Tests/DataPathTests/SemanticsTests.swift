@testable import DataPath
import Foundation
import NBD
import StorageIO
import StorageSimulation
import Testing

/// A server over a simulated disk; `inspect` runs on the loop thread after the server stops.
func simulatedServer(size: UInt64 = 4 << 20, faults: FaultPlan = .none,
                     inspect: (@Sendable (SimulatedDisk) -> Void)? = nil) throws -> ServerHarness {
    let disk = Box<SimulatedDisk?>(nil)
    return try ServerHarness(setup: { loop in
        let d = SimulatedDisk(size: size, seed: 42, loop: loop, faults: faults)
        disk.set(d)
        return [ServedExport(name: "vdi", backend: BlockIOExport(store: d))]
    }, teardown: {
        if let d = disk.get() { inspect?(d) }
    })
}

@Suite("Semantics: errors, durability, ordering", .serialized)
struct SemanticsTests {
    @Test("EIO and ENOSPC from the store reach the client as NBD errors")
    func storeErrors() throws {
        let faults = FaultPlan().failingReads(in: 65536..<131072).noSpace(afterBytes: 8192)
        let server = try simulatedServer(faults: faults)
        defer { server.stop() }
        for structured in [true, false] {
            let client = try RawClient(path: server.socketPath)
            try client.handshake(structured: structured)
            let bad = try client.read(offset: 65536, length: 4096)
            #expect(bad.error == NBDError.io.rawValue)
            if structured { #expect(bad.chunkTypes == [NBDChunkType.error.rawValue], "an ERROR chunk, not data + DONE") }
            #expect(try client.read(offset: 0, length: 4096).error == 0)
        }
        let client = try RawClient(path: server.socketPath)
        try client.handshake()
        #expect(try client.write(offset: 0, [UInt8](repeating: 1, count: 8192)) == 0)
        #expect(try client.write(offset: 8192, [UInt8](repeating: 2, count: 8192)) == NBDError.noSpace.rawValue)
    }

    @Test("FLUSH on one connection makes writes replied on another durable (CAN_MULTI_CONN); FUA alone too")
    func multiConnFlush() throws {
        let a = pattern(count: 65536, seed: 11), b = pattern(count: 4096, seed: 12), c = pattern(count: 4096, seed: 13)
        let durable = Box<[[UInt8]]>([])
        let server = try simulatedServer(inspect: { disk in
            durable.set([disk.durableContents(at: 0, count: 65536), disk.durableContents(at: 1 << 20, count: 4096),
                         disk.durableContents(at: 2 << 20, count: 4096)])
        })
        let writer = try RawClient(path: server.socketPath)
        let (_, flags) = try writer.handshake()
        #expect(flags.contains(.canMultiConn) && flags.contains(.sendFlush) && flags.contains(.sendFUA))
        let flusher = try RawClient(path: server.socketPath)
        try flusher.handshake()
        #expect(try writer.write(offset: 0, a) == 0)
        #expect(try flusher.simple(.flush) == 0)
        #expect(try writer.write(offset: 1 << 20, b, fua: true) == 0)
        #expect(try writer.write(offset: 2 << 20, c) == 0) // neither flushed nor FUA
        server.stop()
        let media = durable.get()
        #expect(media.count == 3)
        #expect(media.first == a ? true : false, "the flush on another connection covered the replied write")
        #expect(media.dropFirst().first == b ? true : false, "FUA write is durable on its own")
        #expect(media.last != c ? true : false, "an unflushed write is still only in the simulated cache")
    }

    @Test("replies come back out of order, with more than 64 requests in flight on one connection")
    func outOfOrderDeepQueue() throws {
        let server = try simulatedServer(faults: FaultPlan().delaying(maxTurns: 8, reorder: true))
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        try client.handshake()
        let data = pattern(count: 1 << 20, seed: 5)
        #expect(try client.write(offset: 0, data) == 0)
        let count = 100
        var burst: [UInt8] = []
        var lengths: [UInt64: Int] = [:]
        for i in 0..<count {
            burst += NBDRequestHeader(.read, cookie: UInt64(1000 + i), offset: UInt64(i) * 8192, length: 8192).encoded
            lengths[UInt64(1000 + i)] = 8192
        }
        try client.send(burst)
        var order: [UInt64] = []
        for _ in 0..<count {
            let reply = try client.reply(readLengths: lengths)
            #expect(reply.error == 0)
            let i = Int(reply.cookie - 1000)
            #expect(sameBytes(reply.data, Array(data[(i * 8192)..<((i + 1) * 8192)])))
            order.append(reply.cookie)
        }
        #expect(Set(order).count == count)
        #expect(order != order.sorted(), "delayed, reordered completions must be answered as they finish")
    }

    @Test("WRITE_ZEROES (hole and NO_HOLE), FAST_ZERO refusal, TRIM and CACHE")
    func zeroesAndTrim() throws {
        let dir = try ScratchDirectory()
        let image = dir.file("disk.img")
        writeFile(image, pattern(count: 1 << 20, seed: 6))
        let server = try rawFileServer(image, directory: dir)
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        let (_, flags) = try client.handshake()
        #expect(flags.isSuperset(of: [.sendWriteZeroes, .sendTrim, .sendFastZero, .sendCache]))
        #expect(try client.simple(.writeZeroes, offset: 0, length: 65536) == 0)
        #expect(try client.simple(.writeZeroes, flags: [.noHole, .fua], offset: 131072, length: 65536) == 0)
        #expect(try client.simple(.writeZeroes, flags: [.noHole, .fastZero], offset: 0, length: 4096) == NBDError.notSupported.rawValue)
        #expect(try client.simple(.trim, offset: 262144, length: 65536) == 0)
        #expect(try client.simple(.cache, offset: 0, length: 65536) == 0)
        let zeros = [UInt8](repeating: 0, count: 65536)
        #expect(sameBytes(try client.read(offset: 0, length: 65536).data, zeros))
        #expect(sameBytes(try client.read(offset: 131072, length: 65536).data, zeros))
        #expect(try client.read(offset: 65536, length: 4096).data != Array(zeros.prefix(4096)))
    }

    @Test("BLOCK_STATUS: one extent with REQ_ONE, base:allocation id, whole request otherwise")
    func blockStatus() throws {
        let (server, _) = try patternServer()
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        try client.handshake(meta: true)
        try client.request(NBDRequestHeader(.blockStatus, flags: .reqOne, cookie: 1, offset: 4096, length: 65536))
        let one = try client.reply()
        #expect(one.error == 0 && one.chunkTypes == [NBDChunkType.blockStatus.rawValue])
        #expect(one.extents.count == 1 && one.extents[0].0 == 65536 && one.extents[0].1 == 0)
        try client.request(NBDRequestHeader(.blockStatus, cookie: 2, offset: 0, length: 1 << 20))
        let all = try client.reply()
        #expect(all.extents.map(\.0).reduce(0, +) >= 1 << 20)
    }

    @Test("reads without structured replies are simple replies; after it, one OFFSET_DATA chunk")
    func replyShapes() throws {
        let (server, content) = try patternServer()
        defer { server.stop() }
        let simple = try RawClient(path: server.socketPath)
        try simple.handshake(structured: false)
        let r1 = try simple.read(offset: 512, length: 1024)
        #expect(r1.chunkTypes.isEmpty && sameBytes(r1.data, Array(content[512..<1536])))
        let structured = try RawClient(path: server.socketPath)
        try structured.handshake(structured: true)
        let r2 = try structured.read(offset: 512, length: 1024)
        #expect(r2.chunkTypes == [NBDChunkType.offsetData.rawValue] && sameBytes(r2.data, Array(content[512..<1536])))
    }

    @Test("the server runs on an epoll loop too (where io_uring is unavailable)")
    func epollLoop() throws {
        let server = try ServerHarness(driver: .epoll) { loop in
            [ServedExport(name: "vdi", backend: BlockIOExport(store: SimulatedDisk(size: 1 << 20, seed: 3, loop: loop)))]
        }
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        try client.handshake()
        let data = pattern(count: 65536, seed: 40)
        #expect(try client.write(offset: 8192, data) == 0)
        #expect(sameBytes(try client.read(offset: 8192, length: 65536).data, data))
        #expect(try client.simple(.flush) == 0)
    }

    @Test("buffer cache: sizes map to classes and steady traffic allocates nothing new")
    func bufferCache() {
        let cache = BufferCache(payloadBytesMax: 32 << 20)
        #expect(cache.classIndex(1) == 0 && cache.classIndex(4096) == 0 && cache.classIndex(4097) == 1)
        #expect(cache.classIndex(12288) == 2 && cache.classIndex(32 << 20) == 13)
        for _ in 0..<3 {
            let buffers = (0..<64).map { _ in cache.take(65536) }
            for b in buffers { cache.give(b, bytes: 65536) }
        }
        #expect(cache.allocations == 64)
    }

    @Test("limits relate")
    func limits() {
        #expect(DataPathLimits.slotsPerConnection >= 64)
        #expect(DataPathLimits.connectionBufferBytesMax >= DataPathLimits.payloadBytesMax)
        #expect(DataPathLimits.sendIovecsMax >= 2)
        #expect(DataPathLimits.receiveBufferBytes >= NBDLimits.requestHeaderBytes * DataPathLimits.slotsPerConnection)
        #expect(DataPathLimits.payloadBytesMax <= NBDLimits.payloadBytesMax)
        #expect(DataPathLimits.zeroBufferBytes % DataPathLimits.bufferBytesMin == 0)
        #expect(DataPathLimits.buffersKept(classBytes: 4096) >= DataPathLimits.slotsPerConnection)
    }
}
