import DataPath
import Foundation
import Glibc
import NBD
import StorageIO
import Testing

/// Serves a raw file of `size` pattern bytes; returns the harness and the content.
func patternServer(size: Int = 1 << 20, seed: UInt64 = 9) throws -> (ServerHarness, [UInt8]) {
    let dir = try ScratchDirectory()
    let image = dir.file("disk.img")
    let content = pattern(count: size, seed: seed)
    writeFile(image, content)
    return (try rawFileServer(image, directory: dir), content)
}

/// Checks that a fresh client can still read correctly: the server survived.
func expectServing(_ server: ServerHarness, _ content: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let client = try RawClient(path: server.socketPath)
    try client.handshake()
    let reply = try client.read(offset: 4096, length: 8192, cookie: 77)
    #expect(reply.error == 0 && reply.cookie == 77, sourceLocation: sourceLocation)
    #expect(sameBytes(reply.data, Array(content[4096..<12288])), sourceLocation: sourceLocation)
    try client.disconnect()
}

@Suite("Robustness: malformed input, vanishing clients", .serialized)
struct RobustnessTests {
    @Test("fuzzed negotiation and requests never stop the server")
    func fuzz() throws {
        let (server, content) = try patternServer()
        defer { server.stop() }
        var rng = SystemRandomNumberGenerator()
        // Garbage from the first byte.
        for round in 0..<20 {
            let client = try RawClient(path: server.socketPath, timeout: 2)
            _ = try client.receive(18)
            let junk = (0..<Int.random(in: 1...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try? client.send(round % 2 == 0 ? [0, 0, 0, 3] + junk : junk)
            client.shutdownWrite()
            _ = client.waitForEOF()
        }
        // Valid sessions followed by mutated request headers and random payloads.
        for round in 0..<30 {
            let client = try RawClient(path: server.socketPath, timeout: 2)
            try client.handshake(structured: round % 3 != 0, meta: round % 2 == 0)
            for i in 0..<8 {
                var header = NBDRequestHeader(flags: UInt16.random(in: 0...0x3F, using: &rng),
                                              type: UInt16.random(in: 0...9, using: &rng), cookie: UInt64(i),
                                              offset: UInt64.random(in: 0...(2 << 20), using: &rng) & ~511,
                                              length: UInt32.random(in: 0...(64 << 10), using: &rng) & ~511).encoded
                if i == 7 && round % 5 == 0 { header[Int.random(in: 0..<4, using: &rng)] ^= 0x55 } // bad magic
                let payload = header[7] == 1 ? (0..<Int.random(in: 0...3000, using: &rng)).map { _ in UInt8(0xAB) } : []
                try? client.send(header + payload)
            }
            if round % 4 == 0 { try? client.send(Array(repeating: 0xFF, count: 100)) }
            client.shutdownWrite()
            _ = client.waitForEOF()
        }
        try expectServing(server, content)
    }

    @Test("invalid requests get the right error and the connection goes on")
    func invalidRequests() throws {
        let (server, content) = try patternServer()
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        let (size, _) = try client.handshake()
        #expect(size == 1 << 20)
        #expect(try client.read(offset: size - 512, length: 1024).error == NBDError.invalid.rawValue)
        #expect(try client.read(offset: 100, length: 512).error == NBDError.invalid.rawValue)
        #expect(try client.write(offset: size - 512, [UInt8](repeating: 1, count: 1024)) == NBDError.noSpace.rawValue)
        #expect(try client.simple(.trim, offset: size, length: 512) == NBDError.invalid.rawValue)
        #expect(try client.simple(.blockStatus, length: 512) == NBDError.invalid.rawValue, "no meta context negotiated")
        try client.request(NBDRequestHeader(type: 42, cookie: 5))
        #expect(try client.reply().error == NBDError.invalid.rawValue)
        try client.request(NBDRequestHeader(flags: 0x200, type: 1, cookie: 6, offset: 0, length: 512), payload: [UInt8](repeating: 7, count: 512))
        #expect(try client.reply().error == NBDError.invalid.rawValue)
        // The rejected write's payload was skipped: the stream is still in step.
        let ok = try client.read(offset: 0, length: 4096)
        #expect(ok.error == 0 && sameBytes(ok.data, Array(content[0..<4096])))
        // A bad magic ends the connection, not the server.
        try client.send(Array(repeating: 0x11, count: 28))
        #expect(client.waitForEOF())
        try expectServing(server, content)
    }

    @Test("read-only export refuses writes with EPERM")
    func readOnly() throws {
        let dir = try ScratchDirectory()
        let image = dir.file("disk.img")
        writeFile(image, pattern(count: 1 << 20, seed: 3))
        let server = try rawFileServer(image, directory: dir, readOnly: true)
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        let (_, flags) = try client.handshake()
        #expect(flags.contains(.readOnly))
        #expect(try client.write(offset: 0, [UInt8](repeating: 1, count: 512)) == NBDError.permission.rawValue)
        #expect(try client.simple(.writeZeroes, length: 512) == NBDError.permission.rawValue)
        #expect(try client.read(offset: 0, length: 512).error == 0)
    }

    @Test("clients that vanish mid-request, or end with EOF and no DISC, leave the server serving")
    func vanishingClients() throws {
        let (server, content) = try patternServer()
        defer { server.stop() }
        // Half a write payload, then gone.
        do {
            let client = try RawClient(path: server.socketPath)
            try client.handshake()
            try client.send(NBDRequestHeader(.write, cookie: 1, offset: 0, length: 65536).encoded + [UInt8](repeating: 9, count: 1000))
        }
        // Half a header.
        do {
            let client = try RawClient(path: server.socketPath)
            try client.handshake()
            try client.send(Array(NBDRequestHeader(.read, cookie: 1, length: 512).encoded.prefix(13)))
        }
        // Many reads in flight, then gone without reading a reply.
        do {
            let client = try RawClient(path: server.socketPath)
            try client.handshake()
            var burst: [UInt8] = []
            for i in 0..<100 { burst += NBDRequestHeader(.read, cookie: UInt64(i), offset: UInt64(i % 16) * 65536, length: 65536).encoded }
            try client.send(burst)
        }
        // Mid-negotiation.
        do {
            let client = try RawClient(path: server.socketPath)
            _ = try client.receive(18)
            try client.send([0, 0, 0, 3, 0x49, 0x48])
        }
        // fio's size probe: GO, then EOF.
        do {
            let client = try RawClient(path: server.socketPath)
            try client.handshake()
        }
        // The content is intact (the torn write never reached the disk) and the server serves.
        try expectServing(server, content)
        server.stop()
        #expect(server.acceptedCount.get() == 6)
    }

    @Test("a client that queues large reads before taking any reply still gets them all, and others are served")
    func slowReader() throws {
        let (server, content) = try patternServer(size: 8 << 20)
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath, timeout: 20)
        try client.handshake()
        let count = 40 // 160 MiB requested: more than the connection may buffer at once
        var burst: [UInt8] = []
        var lengths: [UInt64: Int] = [:]
        for i in 0..<count {
            burst += NBDRequestHeader(.read, cookie: UInt64(i), offset: UInt64(i % 2) << 22, length: 4 << 20).encoded
            lengths[UInt64(i)] = 4 << 20
        }
        try client.send(burst)
        usleep(200_000)
        try expectServing(server, content)
        for _ in 0..<count {
            let reply = try client.reply(readLengths: lengths)
            let start = Int(reply.cookie % 2) << 22
            #expect(reply.error == 0 && sameBytes(reply.data, Array(content[start..<(start + (4 << 20))])))
        }
    }

    @Test("a client stuck in negotiation is disconnected; one that finished is not")
    func negotiationTimeout() throws {
        let dir = try ScratchDirectory()
        let image = dir.file("disk.img")
        writeFile(image, pattern(count: 1 << 20, seed: 8))
        let server = try ServerHarness(directory: dir, configuration: NBDServerConfiguration(negotiationTimeoutNanoseconds: 300_000_000)) { loop in
            [ServedExport(name: "vdi", backend: BlockIOExport(store: try LocalFile.open(image, on: loop)))]
        }
        defer { server.stop() }
        let idle = try RawClient(path: server.socketPath, timeout: 5)
        _ = try idle.receive(18)
        let busy = try RawClient(path: server.socketPath, timeout: 5)
        try busy.handshake()
        let start = Date()
        #expect(idle.waitForEOF())
        #expect(Date().timeIntervalSince(start) < 4)
        #expect(try busy.read(offset: 0, length: 4096).error == 0)
    }

    @Test("ABORT is acknowledged and the connection closed")
    func abort() throws {
        let (server, _) = try patternServer()
        defer { server.stop() }
        let client = try RawClient(path: server.socketPath)
        _ = try client.receive(18)
        var w = ByteWriter()
        w.raw([0, 0, 0, 3]); w.u64(NBDMagic.option); w.u32(2); w.u32(0)
        try client.send(w.bytes)
        var r = ByteReader(try client.receive(20))
        #expect(r.u64() == NBDMagic.optionReply && r.u32() == 2 && r.u32() == 1 && r.u32() == 0)
        #expect(client.waitForEOF())
    }
}
