import Glibc
import Logging
import StorageIO

/// The daemon's control socket (`ControlProtocol.swift`): a Unix socket, mode 0600, served on
/// the NBD server's own loop, so a control request never races the data path and costs it
/// no thread. Requests of one client are answered in order; a pause answers once drained.
public final class ControlServer {
    public let path: String
    let server: NBDServer
    private let listenFD: Int32
    private var listenWatch: FDWatch?
    private var clients: [Int32: ControlConnection] = [:]
    private var logger: Logger { server.logger }

    /// Listens on `path` (a stale socket there is replaced) for `server`'s loop.
    public init(server: NBDServer, path: String) throws {
        self.server = server
        self.path = path
        listenFD = try Sockets.listenUnix(path: path)
        listenWatch = server.loop.watch(fd: listenFD, events: .readable) { [weak self] _ in self?.acceptAll() }
        server.logger.info("control socket on \(path)")
    }

    deinit { close() }

    /// Stops listening and closes every client, first sending what each is owed (briefly).
    public func close() {
        guard let watch = listenWatch else { return }
        watch.cancel()
        listenWatch = nil
        Glibc.close(listenFD)
        unlink(path)
        for c in Array(clients.values) { c.finish() }
        clients.removeAll()
    }

    private func acceptAll() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            Sockets.setNonBlocking(fd)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            guard clients.count < DataPathLimits.controlConnectionsMax else {
                logger.warning("control: refusing a client, \(DataPathLimits.controlConnectionsMax) already connected")
                Glibc.close(fd)
                continue
            }
            let c = ControlConnection(fd: fd, loop: server.loop, dispatch: { [unowned self] in self.dispatch($0, $1) },
                                      closed: { [unowned self] in self.clients[$0] = nil })
            clients[fd] = c
            c.settle()
        }
    }

    /// Runs one request; `reply` may be called later (pause), always on the loop.
    private func dispatch(_ request: ControlRequest, _ reply: @escaping (ControlReply) -> Void) {
        logger.info("control: \(request.command.rawValue)\(request.path.map { " " + $0 } ?? "")")
        let server = self.server
        func answer(_ failure: ControlFailure?) {
            reply(failure.map(ControlReply.failure) ?? ControlReply(state: server.stateName))
        }
        switch request.command {
        case .list:
            reply(ControlReply(state: server.stateName, exports: server.exportInfos()))
        case .stats:
            reply(ControlReply(state: server.stateName, stats: server.statsReport()))
        case .pause:
            server.pause(answer)
        case .unpause:
            server.unpause(path: request.path, export: request.export, answer)
        case .shutdown:
            logger.notice("control: shutdown requested")
            server.stop()
            answer(nil)
        case .merge:
            answer(server.startLeafMerge(parentPath: request.path!, export: request.export))
        case .mergeAbort:
            answer(server.abortLeafMerge(export: request.export))
        }
    }
}

/// One control client: lines in, replies out, one request at a time.
final class ControlConnection {
    let fd: Int32
    private let loop: EventLoop
    private let dispatch: (ControlRequest, @escaping (ControlReply) -> Void) -> Void
    private let closed: (Int32) -> Void
    private var input: [UInt8] = []
    private var output: [UInt8] = []
    private var watch: FDWatch?
    private var watched: PollEvents = []
    /// A request is being served (a pause draining): later lines wait.
    private var busy = false
    private var inputClosed = false
    private var isClosed = false

    init(fd: Int32, loop: EventLoop, dispatch: @escaping (ControlRequest, @escaping (ControlReply) -> Void) -> Void,
         closed: @escaping (Int32) -> Void) {
        self.fd = fd
        self.loop = loop
        self.dispatch = dispatch
        self.closed = closed
    }

    /// Watches for what the connection waits for, or closes it once it owes nothing.
    func settle() {
        guard !isClosed else { return }
        if inputClosed && !busy && output.isEmpty { return teardown() }
        var want: PollEvents = []
        if !inputClosed && !busy { want.insert(.readable) }
        if !output.isEmpty { want.insert(.writable) }
        guard want != watched else { return }
        watch?.cancel()
        watch = want.isEmpty ? nil : loop.watch(fd: fd, events: want) { [weak self] events in self?.handle(events) }
        watched = want
    }

    private func handle(_ events: PollEvents) {
        if events.contains(.writable) { send() }
        if !inputClosed && !busy && !events.isDisjoint(with: [.readable, .hangup, .error]) { receive() }
        settle()
    }

    private func receive() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !inputClosed {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                input += chunk.prefix(n)
                // A full chunk may have more behind it; a line too long is refused below.
                if n == chunk.count && input.count <= DataPathLimits.controlLineBytesMax { continue }
                break
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            inputClosed = true
        }
        serveLines()
    }

    /// Serves complete lines while no request is pending.
    private func serveLines() {
        while !busy, !isClosed {
            guard let newline = input.firstIndex(of: UInt8(ascii: "\n")) else {
                if input.count > DataPathLimits.controlLineBytesMax {
                    input.removeAll()
                    respond(.failure(ControlFailure(.badRequest, "request line longer than \(DataPathLimits.controlLineBytesMax) bytes")))
                    inputClosed = true
                }
                return
            }
            var line = input[..<newline]
            input.removeSubrange(...newline)
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            switch ControlCodec.decodeRequest(line) {
            case let .failure(f):
                respond(.failure(f))
            case let .success(request):
                busy = true
                dispatch(request) { [weak self] reply in
                    guard let self, !self.isClosed else { return }
                    self.busy = false
                    self.respond(reply)
                    self.serveLines()
                    self.settle()
                }
            }
        }
    }

    private func respond(_ reply: ControlReply) {
        output += ControlCodec.encode(reply)
        send()
    }

    private func send() {
        while !output.isEmpty {
            let n = output.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n > 0 { output.removeFirst(n); continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            // The client is gone: nothing more to say to it.
            output.removeAll()
            inputClosed = true
            return
        }
    }

    /// Last chance to send what is owed (the daemon is exiting), then close.
    func finish() {
        guard !isClosed else { return }
        if !output.isEmpty {
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            while !output.isEmpty {
                let n = output.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { break }
                output.removeFirst(n)
            }
        }
        teardown()
    }

    private func teardown() {
        isClosed = true
        watch?.cancel()
        watch = nil
        Glibc.close(fd)
        closed(fd)
    }
}
