import Foundation
import StorageIO
import Testing

/// One loop serves a socket and file I/O together: the shape of the NBD daemon.
@Suite("Event loop: sockets and files on one loop")
struct EventLoopSocketTests {
    /// A client thread sends block numbers over a socketpair; the loop reads each one from
    /// the socket watch, reads that block from the file, and sends it back from the read's
    /// completion. Everything on the loop side runs on the test's thread.
    @Test("socket requests answered from file reads", arguments: EventLoop.Driver.allCases)
    func socketAndFileOnOneLoop(driver: EventLoop.Driver) throws {
        let dir = try ScratchDirectory()
        let blocks = 64
        let store = try makeStore(dir, size: UInt64(blocks) * 4096, engine: nil, driver: driver)
        defer { store.close() }
        for block in 0..<blocks {
            let data = AlignedBuffer(count: 4096, fill: UInt8(block + 1))
            try store.write(data.raw, at: UInt64(block) * 4096)
        }
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let (serverFD, clientFD) = (fds[0], fds[1])
        defer { close(serverFD) }
        _ = fcntl(serverFD, F_SETFL, fcntl(serverFD, F_GETFL) | O_NONBLOCK)

        let requests = 200
        let client = ClientThread(fd: clientFD, requests: requests, blocks: blocks)
        client.start()

        let pool = AlignedBufferPool(bufferSize: 4096, count: 16)
        var answered = 0
        var inflight = 0
        var loopThread = [pthread_t]()
        var ended = false
        let watch = store.loop.watch(fd: serverFD, events: .readable) { events in
            loopThread.append(pthread_self())
            var block: UInt32 = 0
            while pool.available > 0 {
                let n = recv(serverFD, &block, 4, 0)
                if n == 0 {
                    ended = true
                    break
                }
                guard n == 4 else { break }
                let request = IORequest(.read, buffer: pool.take()!, length: 4096, offset: UInt64(block) * 4096)
                request.onComplete = { r in
                    loopThread.append(pthread_self())
                    var sent = 0
                    while sent < 4096 {
                        let k = send(serverFD, r.buffer! + sent, 4096 - sent, 0)
                        if k > 0 { sent += k } else { usleep(100) }
                    }
                    pool.give(r.buffer!)
                    inflight -= 1
                    answered += 1
                }
                inflight += 1
                store.submit(request)
            }
        }
        let deadline = Date().addingTimeInterval(20)
        while (answered < requests || inflight > 0) && !ended && Date() < deadline {
            store.loop.runOnce(timeoutNanoseconds: 100_000_000)
        }
        watch.cancel()
        client.join()
        #expect(answered == requests)
        #expect(client.mismatches == 0)
        #expect(client.received == requests)
        #expect(Set(loopThread.map { UInt($0) }) == [UInt(pthread_self())])
    }

    /// A socket at EOF is always readable: each turn must still end, calling the handler
    /// once, so one busy fd cannot starve the rest of the loop.
    @Test("an always-ready fd gets one callback per turn", arguments: EventLoop.Driver.allCases)
    func alwaysReadyFDDoesNotStarveTheLoop(driver: EventLoop.Driver) throws {
        let loop = try EventLoop(driver: driver)
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        close(fds[1]) // EOF on fds[0] from now on
        defer { close(fds[0]) }
        var calls = 0
        var watch: FDWatch?
        watch = loop.watch(fd: fds[0], events: .readable) { _ in
            calls += 1
            if calls > 1000 { watch?.cancel() } // a regression ends instead of hanging
        }
        for _ in 0..<5 { loop.runOnce(timeoutNanoseconds: 100_000_000) }
        watch?.cancel()
        #expect(calls >= 4 && calls <= 5, "\(calls) callbacks in 5 turns")
    }
}

/// Sends `requests` block numbers and checks every 4 KiB answer holds that block's byte.
final class ClientThread: @unchecked Sendable {
    let fd: Int32
    let requests: Int
    let blocks: Int
    private(set) var received = 0
    private(set) var mismatches = 0
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    init(fd: Int32, requests: Int, blocks: Int) {
        self.fd = fd
        self.requests = requests
        self.blocks = blocks
    }

    func start() {
        let thread = Thread { [self] in
            var answer = [UInt8](repeating: 0, count: 4096)
            for i in 0..<requests {
                var block = UInt32((i * 7) % blocks)
                _ = send(fd, &block, 4, 0)
                var got = 0
                while got < 4096 {
                    let n = answer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, 4096 - got, 0) }
                    if n <= 0 { break }
                    got += n
                }
                if got < 4096 { break }
                received += 1
                if !answer.allSatisfy({ $0 == UInt8(block + 1) }) { mismatches += 1 }
            }
            close(fd)
            done.signal()
        }
        self.thread = thread
        thread.start()
    }

    func join() { _ = done.wait(timeout: .now() + 30) }
}
