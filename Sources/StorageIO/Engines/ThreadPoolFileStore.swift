import CURing
import Dispatch
import Glibc
import Synchronization

/// A local file driven by pread/pwrite on worker threads: the last fallback, for when neither
/// io_uring nor libaio can run (or O_DIRECT is refused and the loop has no ring). Finished
/// requests are handed back to the loop thread through an eventfd.
final class ThreadPoolFileStore: LocalFileStore {
    /// Hands a non-Sendable request to a worker; the loop thread does not touch it meanwhile.
    private struct Job: @unchecked Sendable {
        let request: IORequest
        let fd: Int32
    }

    private let eventFD: Int32
    private var watch: FDWatch?
    private let queue: DispatchQueue
    /// Requests the workers finished, waiting for the loop thread.
    private final class Finished: Sendable {
        let jobs = Mutex<[Job]>([])
    }

    private let finished = Finished()
    private let slots = DispatchSemaphore(value: StorageLimits.threadPoolWorkers)

    init(file: OpenedFile, loop: EventLoop) throws {
        let efd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard efd >= 0 else {
            throw BlockIOError.engineUnavailable(engine: "threads", reason: "eventfd: \(errnoName(errno))")
        }
        self.eventFD = efd
        self.queue = DispatchQueue(label: "storage.io.threads", attributes: .concurrent)
        super.init(file: file, loop: loop, engine: .threads)
        self.watch = loop.watch(fd: efd, events: .readable) { [unowned self] _ in self.reap() }
    }

    override func start(_ request: IORequest) {
        loop.externalPending += 1
        let job = Job(request: request, fd: file.fd)
        let efd = eventFD
        queue.async { [finished, slots] in
            slots.wait()
            let result = Self.perform(job.request, fd: job.fd)
            slots.signal()
            job.request.result = result
            finished.jobs.withLock { $0.append(job) }
            var one: UInt64 = 1
            _ = Glibc.write(efd, &one, 8)
        }
    }

    /// Runs one request to the end on the calling worker thread: bytes moved or -errno.
    private static func perform(_ request: IORequest, fd: Int32) -> Int32 {
        switch request.operation {
        case .flush:
            return fdatasync(fd) == 0 ? 0 : -errno
        case .discard:
            return cur_fallocate(fd, CUR_FALLOC_PUNCH_HOLE, Int64(request.offset), Int64(request.length)) == 0 ? 0 : -errno
        case .read, .write:
            var done = 0
            while done < request.length {
                let buffer = request.buffer! + done
                let offset = off_t(request.offset) + off_t(done)
                let count = request.length - done
                var vector = iovec(iov_base: buffer, iov_len: count)
                let n = request.operation == .read
                    ? cur_preadv2(fd, &vector, 1, Int64(offset), 0)
                    : cur_pwritev2(fd, &vector, 1, Int64(offset), request.fua ? CUR_RWF_DSYNC : 0)
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return -errno
                }
                if n == 0 { return -EIO }
                done += n
            }
            return Int32(done)
        }
    }

    private func reap() {
        var counter: UInt64 = 0
        _ = Glibc.read(eventFD, &counter, 8)
        let jobs = finished.jobs.withLock { jobs in
            defer { jobs.removeAll(keepingCapacity: true) }
            return jobs
        }
        for job in jobs {
            loop.externalPending -= 1
            let request = job.request
            let result = request.result
            let failure = result < 0 ? file.failure(request, errno: -result) : nil
            request.finish(result: result < 0 ? result : Int32(request.length), failure: failure)
        }
    }

    override func closeEngine() {
        queue.sync(flags: .barrier) {}
        watch?.cancel()
        watch = nil
        Glibc.close(eventFD)
    }
}
