import Foundation
import StorageIO
import Testing

/// Every ring mode delivers file completions and socket readiness, in zero-timeout turns
/// (the daemon's polling) as well as waiting ones: a deferred ring makes CQEs only when the
/// loop asks for events.
@Suite("Event loop: ring modes")
struct RingModeTests {
    @Test("file I/O and a socket watch complete in every ring mode", arguments: RingMode.allCases)
    func ringMode(mode: RingMode) throws {
        let dir = try ScratchDirectory()
        let path = dir.file("disk.img")
        FileManager.default.createFile(atPath: path, contents: nil)
        truncate(path, 1 << 20)
        let loop = try EventLoop(driver: .uring, ringMode: mode)
        #expect(loop.ringMode == mode)
        let store = try LocalFile.open(path, on: loop, options: .init())
        defer { store.close() }
        #expect(try roundTrips(store, at: 8192, fill: 0x5a))

        // Asynchronous reads, reaped only by zero-timeout turns (bounded).
        let buffers = (0..<8).map { _ in AlignedBuffer(count: 4096) }
        var done = 0
        for (i, b) in buffers.enumerated() {
            let r = IORequest(.read, buffer: b.bytes.baseAddress, length: 4096, offset: UInt64(i) * 4096)
            r.onComplete = { _ in done += 1 }
            store.submit(r)
        }
        let deadline = Date().addingTimeInterval(10)
        while done < buffers.count && Date() < deadline { loop.runOnce(timeoutNanoseconds: 0) }
        #expect(done == buffers.count)

        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var readable = 0
        let watch = loop.watch(fd: fds[0], events: .readable) { _ in
            var byte: UInt8 = 0
            if recv(fds[0], &byte, 1, Int32(MSG_DONTWAIT)) == 1 { readable += 1 }
        }
        var one: UInt8 = 1
        #expect(send(fds[1], &one, 1, 0) == 1)
        for _ in 0..<20 where readable == 0 { loop.runOnce(timeoutNanoseconds: 100_000_000) }
        watch.cancel()
        #expect(readable == 1)
    }
}
