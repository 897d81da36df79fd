import Glibc
import Synchronization

/// An exclusive lock shared by processes and threads: a POSIX fcntl record lock on a lock
/// file (as SM's `/var/lock/sm/<ns>/<name>`, so the two can exclude each other) plus an
/// in-process mutex, because fcntl locks belong to the process and would not exclude two
/// threads of it.
///
/// Re-entrant within one holder is not supported: take each lock once per operation.
public final class LockFile: @unchecked Sendable {
    public let path: String
    /// Taken after the fcntl lock and released before it (an NFS SR's lease on the server,
    /// which excludes other hosts as the fcntl lock excludes this host's processes).
    public let companion: (any LockCompanion)?
    private var fd: Int32 = -1

    /// Threads of this process waiting for or holding each path.
    private static let holders = Mutex<Set<String>>([])

    public init(path: String, companion: (any LockCompanion)? = nil) {
        self.path = path
        self.companion = companion
    }

    /// Takes the lock, waiting up to `timeout` seconds; false on timeout.
    public func acquire(timeout: Double = SRLimits.lockWaitSecondsMax) throws -> Bool {
        precondition(fd < 0, "lock \(path) taken twice by one holder")
        let deadline = Self.now() + timeout
        // First the in-process claim, so at most one thread of ours touches the fcntl lock.
        while !Self.holders.withLock({ $0.insert(path).inserted }) {
            if Self.now() > deadline { return false }
            usleep(SRLimits.lockPollMicroseconds)
        }
        do {
            try FileSystem.makeDirectories(FileSystem.dirname(path))
            let f = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard f >= 0 else { throw SREngineError.lockFailed(path: path, detail: String(cString: strerror(errno))) }
            while true {
                var fl = flock()
                fl.l_type = Int16(F_WRLCK)
                fl.l_whence = Int16(SEEK_SET)
                if fcntl(f, F_SETLK, &fl) == 0 { break }
                let e = errno
                guard e == EAGAIN || e == EACCES || e == EINTR else {
                    close(f)
                    throw SREngineError.lockFailed(path: path, detail: String(cString: strerror(e)))
                }
                if Self.now() > deadline {
                    close(f)
                    Self.holders.withLock { _ = $0.remove(path) }
                    return false
                }
                usleep(SRLimits.lockPollMicroseconds)
            }
            fd = f
            if let companion {
                let taken: Bool
                do { taken = try companion.acquire(timeout: max(0, deadline - Self.now())) } catch { release(); throw error }
                if !taken { release(); return false }
            }
            return true
        } catch {
            Self.holders.withLock { _ = $0.remove(path) }
            throw error
        }
    }

    /// Releases the lock (closing the descriptor drops the record lock).
    public func release() {
        guard fd >= 0 else { return }
        companion?.release()
        close(fd)
        fd = -1
        Self.holders.withLock { _ = $0.remove(path) }
    }

    public var isHeld: Bool { fd >= 0 }

    deinit { release() }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// A lock held together with a `LockFile`, for holders the fcntl lock cannot see.
public protocol LockCompanion: AnyObject, Sendable {
    /// Takes the lock, waiting up to `timeout` seconds; false on timeout.
    func acquire(timeout: Double) throws -> Bool
    func release()
}
