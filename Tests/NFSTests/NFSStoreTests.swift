import Foundation
import Glibc
@testable import NFSStore
import StorageIO
import Testing
import TestSupport

/// NFSStore against a real nfs-ganesha on loopback: namespace calls, the asynchronous
/// BlockIO with many requests in flight (v3 and v4), export listing.
extension NFSServerTests {
@Suite struct NFSStoreTests {
    @Test func namespaceCalls() throws {
        let dir = TempDir(prefix: "nfs")
        let server = try GaneshaServer.start(in: dir.path)
        defer { server.stop() }
        let c = try NFSConnection(server: server.nfsServer(), root: "/export")
        try c.makeDirectory("/a")
        try c.writeFile("/a/f", Array("hello".utf8))
        #expect(try c.readFile("/a/f") == Array("hello".utf8))
        #expect(try c.listDirectory("/a") == ["f"])
        try c.writeAtomically("/a/f", Array("world!".utf8), temporarySuffix: "t")
        #expect(try c.readFile("/a/f") == Array("world!".utf8))
        #expect(try c.status("/a/f")?.size == 6)
        #expect(try c.status("/a/missing") == nil)
        #expect(throws: NFSError.self) { try c.writeFile("/a/f", [1], exclusive: true) }
        try c.link("/a/f", to: "/a/g")
        #expect(try c.status("/a/g")?.inode == c.status("/a/f")?.inode)
        try c.rename("/a/g", to: "/a/h")
        try c.remove("/a/h")
        try c.remove("/a/h")
        #expect(try c.spaceUsage().total > 0)
        #expect(FileManager.default.fileExists(atPath: server.exportDirectory + "/a/f"))
    }

    @Test(arguments: [NFSVersion.v3, .v4])
    func manyRequestsInFlight(version: NFSVersion) throws {
        let dir = TempDir(prefix: "nfs")
        let server = try GaneshaServer.start(in: dir.path)
        defer { server.stop() }
        let loop = try EventLoop()
        let c = try NFSConnection(server: server.nfsServer(version: version), root: "/export")
        let file = try c.openFile("/disk", readOnly: false, create: true, on: loop)
        let blockBytes = 64 << 10, count = 32
        try file.resize(to: UInt64(blockBytes * count))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockBytes * count, alignment: 4096)
        defer { buffer.deallocate() }
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: i &* 7 &+ i >> 9) }
        // All writes at once, then all reads at once into a second buffer.
        let requests = (0..<count).map { i in
            IORequest(.write, buffer: buffer.baseAddress! + i * blockBytes, length: blockBytes, offset: UInt64(i * blockBytes))
        }
        for r in requests { file.submit(r) }
        loop.run(until: { requests.allSatisfy(\.isComplete) })
        for r in requests { #expect(r.failure == nil) }
        try file.flush()
        let back = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count, alignment: 4096)
        defer { back.deallocate() }
        let reads = (0..<count).map { i in
            IORequest(.read, buffer: back.baseAddress! + i * blockBytes, length: blockBytes, offset: UInt64(i * blockBytes))
        }
        for r in reads { file.submit(r) }
        loop.run(until: { reads.allSatisfy(\.isComplete) })
        for r in reads { #expect(r.failure == nil) }
        #expect(memcmp(buffer.baseAddress!, back.baseAddress!, buffer.count) == 0)
        file.close()
        let local = try Data(contentsOf: URL(fileURLWithPath: server.exportDirectory + "/disk"))
        #expect(local == Data(buffer))
    }

    @Test func exportList() throws {
        let dir = TempDir(prefix: "nfs")
        let server = try GaneshaServer.start(in: dir.path)
        defer { server.stop() }
        #expect(try NFSExports.list(server.nfsServer()) == ["/export"])
        #expect(try NFSExports.list(server.nfsServer(version: .v4)) == ["/export"])
    }
}
}
