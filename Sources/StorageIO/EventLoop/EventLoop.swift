import CURing
import Glibc

/// One thread's event loop: it drives disk I/O, socket readiness and posted completions.
///
/// With io_uring (the default) file requests and fd polls are SQEs on one ring, submitted in a
/// batch per loop turn and reaped without a syscall per completion. Where io_uring is
/// unavailable the loop runs on epoll, and the fallback engines (libaio, the thread pool)
/// deliver their completions through an eventfd it watches. A loop and everything on it is
/// confined to one thread.
public final class EventLoop {
    public enum Driver: String, Sendable, CaseIterable {
        case uring, epoll
    }

    /// How a turn hands queued SQEs to the kernel.
    public enum SubmitPolicy: Sendable {
        /// One io_uring_enter per turn: submit everything queued and wait for a completion.
        case batched
        /// Also submit right after each completion handler that queued work (fio's default:
        /// keeps the device queue full at the cost of a syscall per request).
        case eager
    }

    public let driver: Driver
    /// How the ring runs completion work (`.standard` on epoll or where the kernel refused).
    public let ringMode: RingMode
    /// Eager by default: on this class of virtio disk it keeps 4 KiB QD32 reads at fio's rate,
    /// where one batch per turn measured about 10% lower (see BENCHMARKS.md).
    public var submitPolicy: SubmitPolicy = .eager

    let ring: UnsafeMutablePointer<io_uring>?
    private let epollFD: Int32
    private var epollWatches: [Int32: FDWatch] = [:]

    // Completions posted by engines that finish requests without the ring, FIFO.
    private var postedHead: IORequest?
    private var postedTail: IORequest?

    /// Ring operations submitted and not yet completed.
    private(set) var ringPending = 0
    /// Requests in flight outside the ring (libaio, worker threads, libnbd) that will come
    /// back through a watched fd; lets `run(until:)` tell waiting from deadlock. Stores
    /// outside this module count their requests here.
    public var externalPending = 0
    private var activeWatches = 0

    private var registeredRegions: [UnsafeMutableRawBufferPointer] = []
    public private(set) var fixedBuffersRegistered = false

    /// Makes a loop on io_uring, or on epoll when io_uring cannot run here (disabled by
    /// `kernel.io_uring_disabled`, ENOSYS, EPERM under seccomp) or `driver` says so.
    /// A `ringMode` the kernel does not know falls back to `.standard`.
    public init(driver requested: Driver? = nil, entries: UInt32 = StorageLimits.ringEntries,
                ringMode: RingMode = .standard) throws {
        if requested != .epoll {
            let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
            ring.initialize(to: io_uring())
            var mode = ringMode
            var rc = EventLoop.initRing(ring, entries: entries, mode: mode)
            if rc == -EINVAL && mode != .standard {
                IOEngineLog.note("io_uring refused ring mode \(mode.rawValue); using standard")
                mode = .standard
                rc = EventLoop.initRing(ring, entries: entries, mode: mode)
            }
            if rc == 0 {
                self.ring = ring
                self.epollFD = -1
                self.driver = .uring
                self.ringMode = mode
                return
            }
            ring.deallocate()
            if requested == .uring {
                throw BlockIOError.engineUnavailable(engine: "io_uring", reason: errnoName(-rc))
            }
            IOEngineLog.note("io_uring unavailable (\(errnoName(-rc))); event loop falls back to epoll")
        }
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else {
            throw BlockIOError.engineUnavailable(engine: "epoll", reason: errnoName(errno))
        }
        self.ring = nil
        self.epollFD = fd
        self.driver = .epoll
        self.ringMode = .standard
    }

    private static func initRing(_ ring: UnsafeMutablePointer<io_uring>, entries: UInt32, mode: RingMode) -> Int32 {
        var params = io_uring_params()
        params.flags = IORING_SETUP_CQSIZE | mode.setupFlags
        params.cq_entries = entries * 2
        return io_uring_queue_init_params(entries, ring, &params)
    }

    deinit {
        if let ring {
            io_uring_queue_exit(ring)
            ring.deallocate()
        }
        if epollFD >= 0 { Glibc.close(epollFD) }
    }

    // MARK: Ring submission

    /// A free SQE, submitting what is queued if the ring is full.
    func nextSQE() -> UnsafeMutablePointer<io_uring_sqe> {
        guard let ring else { preconditionFailure("nextSQE on an epoll loop") }
        if let sqe = cur_get_sqe(ring) { return sqe }
        _ = io_uring_submit(ring)
        guard let sqe = cur_get_sqe(ring) else { preconditionFailure("io_uring SQ full after submit") }
        return sqe
    }

    /// Tags an SQE with `operation`, which stays alive until its completion is dispatched.
    func attach(_ operation: RingOperation, to sqe: UnsafeMutablePointer<io_uring_sqe>) {
        let token = UInt64(UInt(bitPattern: Unmanaged.passRetained(operation).toOpaque()))
        cur_sqe_set_data64(sqe, token)
        ringPending += 1
    }

    // MARK: Posted completions

    /// Completes `request` on the next loop turn (never inside the caller's stack).
    public func post(_ request: IORequest, result: Int32, failure: BlockIOError?) {
        request.result = result
        request.failure = failure
        request.nextPosted = nil
        if let tail = postedTail { tail.nextPosted = request } else { postedHead = request }
        postedTail = request
    }

    private func drainPosted() -> Bool {
        guard var current = postedHead else { return false }
        postedHead = nil
        postedTail = nil
        while true {
            let next = current.nextPosted
            current.nextPosted = nil
            current.finish(result: current.result, failure: current.failure)
            guard let next else { break }
            current = next
        }
        return true
    }

    // MARK: Running

    /// Whether anything could still complete; a wait with nothing outstanding would hang.
    public var hasOutstandingWork: Bool {
        postedHead != nil || ringPending > 0 || externalPending > 0 || activeWatches > 0
    }

    /// Runs turns until `done()` holds. Waiting for a condition nothing can satisfy is a
    /// programmer error and stops the process rather than hanging it.
    public func run(until done: () -> Bool) {
        while !done() {
            precondition(hasOutstandingWork, "EventLoop.run(until:) would wait forever: nothing in flight")
            runOnce(timeoutNanoseconds: Self.waitSliceNanoseconds)
        }
    }

    /// The longest one wait of `run(until:)` lasts before it enters the kernel again. A
    /// completion arrives long before that; the slice only bounds what a missed wake-up
    /// could cost (seen once in CI: a synchronous write waiting in io_uring_enter forever
    /// with no request left in the kernel), since entering again collects what is there.
    static let waitSliceNanoseconds: Int64 = 100_000_000

    /// One turn: deliver posted completions, submit queued SQEs, wait (unless work was just
    /// delivered) up to `timeoutNanoseconds` (negative: no limit) and dispatch what completed.
    /// Returns the number of completions and events dispatched.
    @discardableResult
    public func runOnce(timeoutNanoseconds: Int64) -> Int {
        let delivered = drainPosted()
        let timeout: Int64 = delivered || postedHead != nil ? 0 : timeoutNanoseconds
        switch driver {
        case .uring: return turnRing(timeoutNanoseconds: timeout) + (delivered ? 1 : 0)
        case .epoll: return turnEpoll(timeoutNanoseconds: timeout) + (delivered ? 1 : 0)
        }
    }

    private func turnRing(timeoutNanoseconds: Int64) -> Int {
        guard let ring else { return 0 }
        let wait: UInt32 = timeoutNanoseconds == 0 || ringPending == 0 ? 0 : 1
        // A deferred ring makes CQEs only when asked to; the others post them on their own.
        let rc = wait == 0
            ? Int32(ringMode == .deferred ? io_uring_submit_and_get_events(ring) : io_uring_submit(ring))
            : cur_submit_and_wait_timeout(ring, 1, timeoutNanoseconds)
        if rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY {
            preconditionFailure("io_uring_enter failed: \(errnoName(-rc))")
        }
        // Only the completions present now: handlers re-arm polls and submit eagerly, and an
        // fd that is always ready (a socket at EOF) would otherwise keep this turn going forever.
        var budget = cur_cq_ready(ring)
        var handled = 0
        var cqe: UnsafeMutablePointer<io_uring_cqe>?
        while budget > 0, cur_peek_cqe(ring, &cqe) == 0, let entry = cqe {
            budget -= 1
            let token = cur_cqe_get_data64(entry)
            let result = entry.pointee.res
            let flags = entry.pointee.flags
            cur_cqe_seen(ring, entry)
            guard token != 0 else { continue } // internal ops (poll removal)
            ringPending -= 1
            handled += 1
            let operation = Unmanaged<RingOperation>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(token))!)
                .takeRetainedValue()
            operation.ringCompleted(result: result, flags: flags)
            if submitPolicy == .eager && cur_sq_ready(ring) > 0 { _ = io_uring_submit(ring) }
        }
        return handled
    }

    private func turnEpoll(timeoutNanoseconds: Int64) -> Int {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        let timeoutMs: Int32 = timeoutNanoseconds < 0 ? -1 : Int32(min(Int64(Int32.max), (timeoutNanoseconds + 999_999) / 1_000_000))
        let n = epoll_wait(epollFD, &events, Int32(events.count), timeoutMs)
        guard n > 0 else { return 0 }
        for event in events.prefix(Int(n)) {
            let fd = Int32(truncatingIfNeeded: event.data.u64)
            guard let watch = epollWatches[fd], watch.isActive else { continue }
            watch.handler(PollEvents(rawValue: event.events))
        }
        return Int(n)
    }

    // MARK: Watches

    /// Calls `handler` on the loop thread whenever `fd` is ready for `events`, until the
    /// returned watch is cancelled.
    public func watch(fd: Int32, events: PollEvents, handler: @escaping (PollEvents) -> Void) -> FDWatch {
        let watch = FDWatch(fd: fd, events: events, loop: self, handler: handler)
        activeWatches += 1
        switch driver {
        case .uring:
            armWatch(watch)
        case .epoll:
            precondition(epollWatches[fd] == nil, "fd \(fd) is already watched")
            var event = epoll_event()
            event.events = events.rawValue
            event.data.u64 = UInt64(UInt32(bitPattern: fd))
            let rc = epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
            precondition(rc == 0, "epoll_ctl ADD fd \(fd): \(errnoName(errno))")
            epollWatches[fd] = watch
        }
        return watch
    }

    func armWatch(_ watch: FDWatch) {
        let sqe = nextSQE()
        cur_prep_poll_add(sqe, watch.fd, watch.events.rawValue)
        attach(watch, to: sqe)
        watch.isArmed = true
    }

    func cancelWatch(_ watch: FDWatch) {
        watchEnded(watch)
        switch driver {
        case .uring:
            guard watch.isArmed else { return }
            let sqe = nextSQE()
            cur_prep_poll_remove(sqe, UInt64(UInt(bitPattern: Unmanaged.passUnretained(watch).toOpaque())))
            cur_sqe_set_data64(sqe, 0)
        case .epoll:
            epollWatches[watch.fd] = nil
            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, watch.fd, nil)
        }
    }

    func watchEnded(_ watch: FDWatch) {
        activeWatches -= 1
    }

    // MARK: Registered buffers

    /// Registers `region` with the ring, so requests whose buffer lies inside it use fixed-
    /// buffer reads and writes (no page pinning per request). Returns false where the ring
    /// refuses (epoll loop, RLIMIT_MEMLOCK); I/O then simply uses the unregistered path.
    @discardableResult
    public func registerBuffers(_ region: UnsafeMutableRawBufferPointer) -> Bool {
        guard let ring, ringPending == 0 else { return false }
        if fixedBuffersRegistered { _ = io_uring_unregister_buffers(ring) }
        let all = registeredRegions + [region]
        var vectors = all.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        let rc = io_uring_register_buffers(ring, &vectors, UInt32(vectors.count))
        if rc == 0 {
            registeredRegions = all
            fixedBuffersRegistered = true
            return true
        }
        fixedBuffersRegistered = false
        if !registeredRegions.isEmpty {
            var old = registeredRegions.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
            fixedBuffersRegistered = io_uring_register_buffers(ring, &old, UInt32(old.count)) == 0
        }
        IOEngineLog.note("io_uring buffer registration refused (\(errnoName(-rc))); using unregistered buffers")
        return false
    }

    /// The registered-buffer index covering `[pointer, pointer+length)`, or nil.
    @inline(__always)
    func fixedBufferIndex(_ pointer: UnsafeMutableRawPointer, length: Int) -> Int32? {
        guard fixedBuffersRegistered else { return nil }
        for (index, region) in registeredRegions.enumerated() {
            let base = region.baseAddress!
            if pointer >= base && pointer + length <= base + region.count { return Int32(index) }
        }
        return nil
    }
}
