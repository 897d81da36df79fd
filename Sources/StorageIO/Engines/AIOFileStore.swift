import CAIO
import CURing
import Glibc

/// A local O_DIRECT file on Linux native AIO: requests are iocbs from a preallocated pool,
/// and completions come back through an eventfd the loop watches. The fallback for kernels
/// or sandboxes without io_uring.
final class AIOFileStore: LocalFileStore {
    private var context: io_context_t?
    private let eventFD: Int32
    private var watch: FDWatch?
    private let iocbs: UnsafeMutablePointer<iocb>
    private var freeSlots: [Int32]
    private var waiting: [IORequest] = []
    private var events: [io_event]
    private let depth: Int32

    init(file: OpenedFile, loop: EventLoop, depth: Int32 = StorageLimits.aioDepthMax) throws {
        var context: io_context_t?
        let rc = io_setup(depth, &context)
        guard rc == 0 else {
            throw BlockIOError.engineUnavailable(engine: "aio", reason: "io_setup: \(errnoName(-rc))")
        }
        let efd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard efd >= 0 else {
            io_destroy(context)
            throw BlockIOError.engineUnavailable(engine: "aio", reason: "eventfd: \(errnoName(errno))")
        }
        self.context = context
        self.eventFD = efd
        self.depth = depth
        self.iocbs = .allocate(capacity: Int(depth))
        self.iocbs.initialize(repeating: iocb(), count: Int(depth))
        self.freeSlots = Array((0..<depth).reversed())
        self.events = Array(repeating: io_event(), count: Int(depth))
        super.init(file: file, loop: loop, engine: .aio)
        waiting.reserveCapacity(Int(depth))
        self.watch = loop.watch(fd: efd, events: .readable) { [unowned self] _ in self.reap() }
    }

    deinit {
        iocbs.deallocate()
    }

    override func start(_ request: IORequest) {
        switch request.operation {
        case .discard:
            let rc = cur_fallocate(file.fd, CUR_FALLOC_PUNCH_HOLE, Int64(request.offset), Int64(request.length))
            post(request, rc == 0 ? 0 : -errno)
            return
        case .read, .write, .flush:
            break
        }
        guard let slot = freeSlots.popLast() else {
            waiting.append(request)
            return
        }
        let cb = iocbs + Int(slot)
        cb.pointee = iocb()
        switch request.operation {
        case .read, .write:
            let (buffer, length, offset) = remaining(request)
            if request.operation == .read {
                io_prep_pread(cb, file.fd, buffer, length, Int64(offset))
            } else {
                io_prep_pwrite(cb, file.fd, buffer, length, Int64(offset))
                if request.fua { cb.pointee.aio_rw_flags = UInt32(CUR_RWF_DSYNC) }
            }
        case .flush, .discard:
            io_prep_fdsync(cb, file.fd)
        }
        io_set_eventfd(cb, eventFD)
        cb.pointee.data = Unmanaged.passRetained(request).toOpaque()
        var list: UnsafeMutablePointer<iocb>? = cb
        let rc = io_submit(context, 1, &list)
        if rc != 1 {
            Unmanaged<IORequest>.fromOpaque(cb.pointee.data).release()
            freeSlots.append(slot)
            if request.operation == .flush && rc == -EINVAL {
                // Filesystems without async fsync: do it inline (the fallback is allowed to block).
                post(request, fdatasync(file.fd) == 0 ? 0 : -errno)
            } else {
                post(request, rc < 0 ? Int32(rc) : -EIO)
            }
            return
        }
        loop.externalPending += 1
    }

    private func post(_ request: IORequest, _ result: Int32) {
        let failure = result < 0 ? file.failure(request, errno: -result) : nil
        loop.post(request, result: result < 0 ? result : Int32(request.length), failure: failure)
    }

    /// Drains the eventfd and completes every finished iocb.
    private func reap() {
        var counter: UInt64 = 0
        _ = Glibc.read(eventFD, &counter, 8)
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        while true {
            let n = events.withUnsafeMutableBufferPointer {
                io_getevents(context, 0, Int(depth), $0.baseAddress, &zero)
            }
            guard n > 0 else { break }
            for i in 0..<Int(n) {
                let event = events[i]
                let cb = event.obj!
                let slot = Int32(cb - iocbs)
                let request = Unmanaged<IORequest>.fromOpaque(cb.pointee.data).takeRetainedValue()
                freeSlots.append(slot)
                loop.externalPending -= 1
                complete(request, result: Int(bitPattern: UInt(event.res)))
            }
        }
        while !waiting.isEmpty, !freeSlots.isEmpty {
            start(waiting.removeFirst())
        }
    }

    private func complete(_ request: IORequest, result: Int) {
        if result < 0 {
            request.finish(result: Int32(result), failure: file.failure(request, errno: Int32(-result)))
        } else if result == 0 && request.operation != .flush {
            request.finish(result: -EIO, failure: file.failure(request, errno: EIO))
        } else if advance(request, by: Int32(result)) {
            request.finish(result: Int32(request.length), failure: nil)
        } else {
            start(request)
        }
    }

    override func closeEngine() {
        watch?.cancel()
        watch = nil
        io_destroy(context)
        context = nil
        Glibc.close(eventFD)
    }
}

