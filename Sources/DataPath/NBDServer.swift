import Glibc
import Logging
import NBD
import StorageIO

/// An export as the server offers it: a name clients ask for, and the backend behind it.
public struct ServedExport {
    public var name: String
    public var description: String
    public var backend: any ExportBackend
    /// The image file served, as `list` reports it and `unpause` reopens it by default.
    public var path: String
    /// Opens an image (by path) as this export's backend again, on the server's loop: what
    /// `unpause` calls. Nil: the export cannot be paused.
    public var reopen: ((String) throws -> any ExportBackend)?

    public init(name: String, description: String = "", backend: any ExportBackend, path: String? = nil,
                reopen: ((String) throws -> any ExportBackend)? = nil) {
        self.name = name
        self.description = description
        self.backend = backend
        self.path = path ?? backend.name
        self.reopen = reopen
    }

    /// What negotiation tells clients, from the backend's current size and features.
    var nbdDescription: NBDExportDescription {
        let f = backend.features
        let minimum = max(1, f.minimumBlock)
        let preferred = max(NBDLimits.preferredBlockBytes, minimum)
        return NBDExportDescription(
            name: name, description: description, size: backend.size, flags: f.transmissionFlags,
            minimumBlock: UInt32(minimum), preferredBlock: UInt32(preferred),
            maximumPayload: UInt32(max(preferred, f.transferBytesMax)), offersBaseAllocation: true)
    }
}

/// Stops a server from any thread (a signal handler's thread, a test): it wakes the
/// server's loop through a pipe the loop watches.
public final class NBDServerStopHandle: Sendable {
    /// The end the loop watches, and the end `stop()` writes.
    let readFD: Int32
    let writeFD: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SocketError(call: "pipe", address: "stop handle", errno: errno) }
        for fd in fds {
            Sockets.setNonBlocking(fd)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        Glibc.close(readFD)
        Glibc.close(writeFD)
    }

    public func stop() {
        var one: UInt8 = 1
        _ = Glibc.write(writeFD, &one, 1)
    }
}

/// The NBD server of the data path: listening sockets and connections on ONE event loop,
/// which also completes the exports' disk I/O, so a request crosses no thread.
///
/// Confined to the loop's thread, except `stopHandle`. `run()` serves until stopped, then
/// lets connections finish their requests (for a bounded time) and closes everything.
public final class NBDServer {
    public let loop: EventLoop
    public internal(set) var exports: [ServedExport]
    public let stopHandle: NBDServerStopHandle
    public let configuration: NBDServerConfiguration
    let logger: Logger
    let cache: BufferCache

    struct Listener {
        var fd: Int32
        /// Nil while paused: new clients wait in the kernel's backlog.
        var watch: FDWatch?
        var unixPath: String?
    }
    var listeners: [Listener] = []
    var connections: [Int: NBDConnection] = [:]
    private var nextConnectionID = 0
    private var stopWatch: FDWatch?
    public private(set) var isStopping = false
    /// Counters and latencies per export, parallel to `exports`.
    let stats: [ExportStats]
    /// Exports whose backend is closed (by a pause, or at the end): parallel to `exports`.
    var backendClosed: [Bool]
    /// serving, or a pause draining requests, or paused (see NBDServer+Pause.swift).
    var pauseState = PauseState.serving
    /// False while paused or pausing: connections read no requests, the listeners accept no one.
    private(set) var acceptsRequests = true
    var pauseWaiters: [(ControlFailure?) -> Void] = []
    /// Work that must not run inside a nested loop turn (an image call that runs the loop
    /// while a control request arrives): `run()` does it between turns.
    var deferred: [() -> Void] = []
    /// Requests of all connections being served by the backends now.
    var requestsInFlight = 0
    /// Their lengths summed (reads and writes move this much data).
    var bytesInFlight = 0
    /// Connections accepted since the server started (tests and stats).
    public private(set) var acceptedCount = 0

    public init(loop: EventLoop, exports: [ServedExport], configuration: NBDServerConfiguration = NBDServerConfiguration(),
                logger: Logger = Logger(label: "sm-tapdisk.nbd")) throws {
        precondition(!exports.isEmpty, "a server needs at least one export")
        for e in exports { precondition(e.backend.loop === loop, "export \(e.name) runs on another loop") }
        self.loop = loop
        self.exports = exports
        self.configuration = configuration
        self.logger = logger
        stats = exports.map { _ in ExportStats() }
        backendClosed = exports.map { _ in false }
        stopHandle = try NBDServerStopHandle()
        let payloadMax = exports.map { $0.backend.features.transferBytesMax }.max()!
        cache = BufferCache(payloadBytesMax: max(payloadMax, DataPathLimits.bufferBytesMin))
        cache.prewarm(count: DataPathLimits.slotsPerConnection, bytes: 4096)
        let stopFD = stopHandle.readFD
        // Not weak: a weak reference gives the server a refcount side table, which slows every
        // retain and release of it on the hot path. deinit cancels the watches.
        stopWatch = loop.watch(fd: stopFD, events: .readable) { [unowned(unsafe) self] _ in
            var drain = [UInt8](repeating: 0, count: 16)
            _ = Glibc.read(stopFD, &drain, drain.count)
            self.stop()
        }
    }

    deinit {
        stopWatch?.cancel()
        for l in listeners {
            l.watch?.cancel()
            Glibc.close(l.fd)
        }
    }

    /// Listens on a Unix socket at `path` (mode 0600), replacing a stale socket file.
    public func listen(unixPath path: String) throws {
        let fd = try Sockets.listenUnix(path: path)
        addListener(fd: fd, unixPath: path)
        logger.info("listening on \(path)")
    }

    /// Listens on TCP at a loopback `host` (anything else is refused); port 0 picks one.
    /// Returns the bound port.
    @discardableResult
    public func listen(tcpHost host: String, port: UInt16) throws -> UInt16 {
        let (fd, bound) = try Sockets.listenTCP(host: host, port: port)
        addListener(fd: fd, unixPath: nil)
        logger.info("listening on \(host):\(bound)")
        return bound
    }

    private func addListener(fd: Int32, unixPath: String?) {
        listeners.append(Listener(fd: fd, watch: acceptsRequests ? watchListener(fd) : nil, unixPath: unixPath))
    }

    func watchListener(_ fd: Int32) -> FDWatch {
        loop.watch(fd: fd, events: .readable) { [unowned(unsafe) self] _ in self.acceptAll(fd) }
    }

    /// Stops or resumes reading requests and accepting clients (pause, unpause).
    func setAcceptsRequests(_ accepts: Bool) {
        guard accepts != acceptsRequests else { return }
        acceptsRequests = accepts
        for i in listeners.indices {
            listeners[i].watch?.cancel()
            listeners[i].watch = accepts && !isStopping ? watchListener(listeners[i].fd) : nil
        }
    }

    func exportIndex(named name: String) -> Int? {
        exports.firstIndex { $0.name == name }
    }

    public var connectionCount: Int { connections.count }

    private func acceptAll(_ listenFD: Int32) {
        while !isStopping && acceptsRequests {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK {
                    logger.warning("accept failed: \(String(cString: strerror(errno)))")
                }
                return
            }
            guard connections.count < DataPathLimits.connectionsMax else {
                logger.warning("refusing a connection: \(DataPathLimits.connectionsMax) already open")
                Glibc.close(fd)
                continue
            }
            Sockets.setNonBlocking(fd)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            Sockets.setNoDelay(fd)
            acceptedCount += 1
            nextConnectionID += 1
            let connection = NBDConnection(id: nextConnectionID, fd: fd, server: self,
                                           exports: exports.map(\.nbdDescription), cache: cache, logger: logger)
            connections[connection.id] = connection
            connection.start()
        }
    }

    func connectionClosed(_ connection: NBDConnection) {
        connections[connection.id] = nil
    }

    /// Stops accepting and lets every connection finish; `run()` returns once they have.
    public func stop() {
        guard !isStopping else { return }
        isStopping = true
        logger.info("stopping: \(connections.count) connection(s) to drain")
        for l in listeners {
            l.watch?.cancel()
            Glibc.close(l.fd)
            if let path = l.unixPath { unlink(path) }
        }
        listeners.removeAll()
        stopWatch?.cancel()
        stopWatch = nil
        for c in Array(connections.values) { c.beginShutdown() }
    }

    /// Serves until `stop()` (or the stop handle), then drains connections: after the grace
    /// period clients that still have not taken their replies are cut off.
    public func run() {
        var deadline: UInt64 = 0
        let spin = UInt64(configuration.pollNanoseconds)
        var lastWork: UInt64 = 0
        var lastSweep = monotonicNanoseconds()
        var governor = PollGovernor()
        while !(isStopping && connections.isEmpty && pauseState != .draining) {
            runDeferred()
            let now = monotonicNanoseconds()
            if now - lastSweep >= UInt64(DataPathLimits.sweepIntervalNanoseconds) {
                lastSweep = now
                sweepNegotiations(now: now)
            }
            if isStopping {
                if deadline == 0 { deadline = now + UInt64(DataPathLimits.shutdownGraceNanoseconds) }
                if now > deadline { for c in Array(connections.values) { c.abort() } }
                loop.runOnce(timeoutNanoseconds: 50_000_000)
                continue
            }
            if spin > 0 && requestsInFlight >= DataPathLimits.pollDepthMin
                && bytesInFlight <= DataPathLimits.pollBytesInFlightMax && governor.mayPoll(now: now) {
                // Poll the ring without sleeping while many small requests keep the disk
                // busy: when this thread sleeps, the scheduler tends to wake it on the
                // client's CPU, and the two then take turns instead of overlapping. Large
                // transfers need the CPU for copying more than they suffer from wake-ups,
                // and the governor stops it while another task wants this CPU.
                if loop.runOnce(timeoutNanoseconds: 0) > 0 {
                    lastWork = monotonicNanoseconds()
                    continue
                }
                if monotonicNanoseconds() - lastWork < spin { continue }
            }
            loop.runOnce(timeoutNanoseconds: DataPathLimits.sweepIntervalNanoseconds)
            lastWork = monotonicNanoseconds()
        }
        // Control requests that arrived at the very end are answered (as stopping).
        runDeferred()
    }

    /// Disconnects clients that have not finished negotiating in time.
    private func sweepNegotiations(now: UInt64) {
        // A client paused mid-negotiation is waiting on us, not the other way round.
        guard acceptsRequests else { return }
        let limit = UInt64(configuration.negotiationTimeoutNanoseconds)
        for c in Array(connections.values) where c.isNegotiating && now - c.acceptedAt > limit {
            logger.notice("connection \(c.id): negotiation timed out")
            c.abort()
        }
    }
}

func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
