import CNFS
import Glibc
import Logging
import StorageIO

/// One mounted directory of an NFS server: a libnfs context, its namespace calls (stat,
/// mkdir, rename, ...), and the files opened through it.
///
/// Namespace calls are synchronous (libnfs's own poll loop; for SR metadata and tools).
/// File data goes through `NFSFile`, asynchronously on the event loop the connection is
/// bound to: the context's socket is an `FDWatch` on that loop and `nfs_service` runs from
/// it, so one thread drives disks, NBD clients and NFS. A connection and its files are
/// confined to one thread.
public final class NFSConnection {
    public let server: NFSServer
    /// The mounted directory, absolute on the server; the paths given to calls are below it.
    public let root: String
    let context: OpaquePointer
    static let logger = Logger(label: "storage.nfs")

    /// Read and write sizes the server granted (rsize / wsize); requests are cut to them.
    let readPieceMax: Int
    let writePieceMax: Int

    // Loop binding: the socket's watch, a timer for timeouts and retries, the open files.
    private(set) var loop: EventLoop?
    private var socketWatch: FDWatch?
    private var timerFD: Int32 = -1
    private var timerWatch: FDWatch?
    private var ticking = false
    /// Inside nfs_service (ours or a synchronous call's): libnfs must not be re-entered.
    var servicing = false
    private var flushWanted = false
    private var files: [WeakFile] = []
    /// Requests in flight or waiting for a retry, over every file.
    private var pending = 0

    private struct WeakFile { weak var file: NFSFile? }

    /// Mounts `root` on `server`, retrying a refused or lost connection within the
    /// soft-mount bound.
    public init(server: NFSServer, root: String) throws {
        self.server = server
        self.root = root.hasPrefix("/") ? root : "/" + root
        try NFSServer.checkURLSafe(self.root, key: "serverpath")
        let url = server.url(self.root)
        let deadline = monotonicNanoseconds() + server.softMount.deadlineNanoseconds
        var backoff: UInt64 = 0
        while true {
            switch Self.mount(url: url, timeout: server.softMount.rpcTimeoutMilliseconds) {
            case let .success(context):
                self.context = context
                readPieceMax = Int(clamping: max(4096, min(nfs_get_readmax(context), UInt64(NFSLimits.transferBytesMax))))
                let writeMax = Int(clamping: max(4096, min(nfs_get_writemax(context), UInt64(NFSLimits.transferBytesMax))))
                writePieceMax = server.version == .v4 ? min(writeMax, NFSLimits.v4WriteBytesMax) : writeMax
                return
            case let .failure(detail):
                backoff = NFSSoftMount.nextBackoff(backoff)
                guard Self.isConnectionFailure(detail), monotonicNanoseconds() + backoff < deadline else {
                    throw NFSError.mount(url: url, detail: detail)
                }
                usleep(UInt32(backoff / 1000))
            }
        }
    }

    private enum MountOutcome { case success(OpaquePointer), failure(String) }

    private static func mount(url: String, timeout: Int32) -> MountOutcome {
        guard let context = nfs_init_context() else { return .failure("nfs_init_context failed") }
        nfs_set_timeout(context, timeout)
        // The URL is the only way libnfs 4.0 takes nfsport= and mountport= (and version=).
        guard let parsed = nfs_parse_url_dir(context, url) else {
            let detail = errorText(context)
            nfs_destroy_context(context)
            return .failure("bad URL: \(detail)")
        }
        defer { nfs_destroy_url(parsed) }
        if nfs_mount(context, parsed.pointee.server, parsed.pointee.path) != 0 {
            let detail = errorText(context)
            nfs_destroy_context(context)
            return .failure(detail)
        }
        return .success(context)
    }

    /// A mount that failed to reach the server (as opposed to one the server refused).
    static func isConnectionFailure(_ detail: String) -> Bool {
        ["connect", "Connect", "timed out", "RPC_STATUS_ERROR", "RPC_STATUS_TIMEOUT", "nfs_service", "POLLHUP", "socket"]
            .contains { detail.contains($0) }
    }

    static func errorText(_ context: OpaquePointer) -> String {
        nfs_get_error(context).map { String(cString: $0) } ?? "unknown libnfs error"
    }

    deinit {
        unbind()
        nfs_destroy_context(context)
    }

    /// The URL of `path` below the mounted directory.
    public func url(_ path: String) -> String { server.url(absolute(path)) }

    func absolute(_ path: String) -> String {
        path.isEmpty || path == "/" ? root : (root == "/" ? "" : root) + (path.hasPrefix("/") ? path : "/" + path)
    }

    /// libnfs paths are relative to the mount, with a leading slash.
    static func mountPath(_ path: String) -> String { path.hasPrefix("/") ? path : "/" + path }

    // MARK: Synchronous calls with soft-mount retries

    /// Runs a synchronous libnfs call, retrying transport failures until the soft-mount
    /// deadline. Returns the call's non-negative result.
    @discardableResult
    func perform(_ operation: String, _ path: String, _ call: (OpaquePointer) -> Int32) throws -> Int32 {
        let deadline = monotonicNanoseconds() + server.softMount.deadlineNanoseconds
        var backoff: UInt64 = 0
        while true {
            let wasServicing = servicing
            servicing = true
            let rc = call(context)
            servicing = wasServicing
            afterSynchronousCall()
            if rc >= 0 { return rc }
            let detail = Self.errorText(context)
            let transport = NFSSoftMount.isTransportFailure(rc) || (rc == -EIO && detail.contains("nfs_service"))
            guard transport else { throw NFSError.call(operation: operation, url: url(path), errno: -rc, detail: detail) }
            backoff = NFSSoftMount.nextBackoff(backoff)
            guard monotonicNanoseconds() + backoff < deadline else {
                throw NFSError.timedOut(operation: operation, url: url(path), seconds: server.softMount.deadlineSeconds, detail: detail)
            }
            usleep(UInt32(backoff / 1000))
        }
    }

    // MARK: Event loop binding

    /// Binds the connection to `loop`: its files complete there. A connection serves one loop.
    func bind(to loop: EventLoop) {
        if let bound = self.loop {
            precondition(bound === loop, "an NFS connection serves one event loop; open another connection for another loop")
            return
        }
        self.loop = loop
        timerFD = timerfd_create(CLOCK_MONOTONIC, CNFS_TFD_NONBLOCK | CNFS_TFD_CLOEXEC)
        precondition(timerFD >= 0, "timerfd_create: \(String(cString: strerror(errno)))")
        timerWatch = loop.watch(fd: timerFD, events: .readable) { [unowned self] _ in self.tick() }
        updateSocketWatch(force: true)
    }

    /// Whether a file can be opened on `loop` through this connection.
    public func canServe(_ loop: EventLoop) -> Bool { self.loop == nil || self.loop === loop }

    private func unbind() {
        socketWatch?.cancel()
        socketWatch = nil
        timerWatch?.cancel()
        timerWatch = nil
        if timerFD >= 0 { Glibc.close(timerFD) }
        timerFD = -1
        loop = nil
    }

    func register(_ file: NFSFile) {
        files.removeAll { $0.file == nil }
        files.append(WeakFile(file: file))
    }

    func unregister(_ file: NFSFile) { files.removeAll { $0.file == nil || $0.file === file } }

    /// A file started (+1) or finished (-1) a request: ticks run while any is outstanding.
    func pendingChanged(by delta: Int) {
        pending += delta
        setTicking(pending > 0)
    }

    /// A file queued an RPC: send it now rather than on the next loop turn.
    func queued() {
        if servicing { flushWanted = true; return }
        flushOutput()
        updateSocketWatch(force: false)
    }

    private var isConnected: Bool { nfs_which_events(context) & Int32(POLLIN) != 0 }

    /// Writes queued RPCs to a connected socket (never while connecting: libnfs would take
    /// a POLLOUT then for the end of the connect).
    private func flushOutput() {
        let events = nfs_which_events(context)
        guard events & Int32(POLLIN) != 0, events & Int32(POLLOUT) != 0 else { return }
        service(Int32(POLLOUT))
    }

    private func service(_ revents: Int32) {
        servicing = true
        if nfs_service(context, revents) < 0 {
            Self.logger.debug("nfs_service \(url("")): \(Self.errorText(context))")
        }
        servicing = false
        if flushWanted {
            flushWanted = false
            flushOutput()
        }
        updateSocketWatch(force: false)
    }

    /// Keeps the socket watch matching what libnfs waits for. While disconnected the watch
    /// is dropped and the timer drives reconnection instead: a refused connect is ready at
    /// once, and watching it would spin the loop through reconnect attempts.
    private func updateSocketWatch(force: Bool) {
        guard let loop else { return }
        guard isConnected else {
            socketWatch?.cancel()
            socketWatch = nil
            return
        }
        let fd = nfs_get_fd(context)
        let wanted = PollEvents(rawValue: UInt32(nfs_which_events(context)))
        if !force, let w = socketWatch, w.isActive, w.fd == fd, w.events == wanted { return }
        socketWatch?.cancel()
        socketWatch = loop.watch(fd: fd, events: wanted) { [unowned self] events in
            self.service(Int32(bitPattern: events.rawValue))
        }
    }

    /// After a synchronous call libnfs may have reconnected (a new socket dup2'ed onto the
    /// same fd number), which a standing poll would never see: watch afresh.
    func afterSynchronousCall() {
        guard loop != nil, !servicing else { return }
        if flushWanted { flushWanted = false; flushOutput() }
        updateSocketWatch(force: true)
    }

    private func setTicking(_ on: Bool) {
        guard on != ticking, timerFD >= 0 else { return }
        ticking = on
        let ns = on ? NFSLimits.tickNanoseconds : 0
        let period = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var spec = itimerspec(it_interval: period, it_value: period)
        _ = timerfd_settime(timerFD, 0, &spec, nil)
    }

    /// Every tick while work is outstanding: libnfs's timeout scan, a reconnect attempt when
    /// disconnected, and the retries that are due.
    private func tick() {
        var expirations: UInt64 = 0
        _ = Glibc.read(timerFD, &expirations, 8)
        service(0)
        if !isConnected {
            var p = pollfd(fd: nfs_get_fd(context), events: Int16(truncatingIfNeeded: nfs_which_events(context)), revents: 0)
            if p.fd >= 0, poll(&p, 1, 0) > 0 { service(Int32(p.revents)) }
        }
        let now = monotonicNanoseconds()
        for entry in files { entry.file?.retryDue(now: now) }
    }
}
