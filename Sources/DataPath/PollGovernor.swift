import Glibc

/// Decides whether the server may busy-poll now: only while the host has CPU to spare.
///
/// Polling pays on an idle host (the loop never halts its vCPU, and a busy loop is not packed
/// onto the client's vCPU by the scheduler: +30% on 4 KiB QD32 reads here) and costs on a
/// busy one (the spinning takes CPU others need). Contention shows as the loop thread's run
/// delay (`/proc/thread-self/schedstat`: time runnable but not running) above
/// `runDelayShareMax` of a window; but a client packed onto the loop's CPU causes that too,
/// and there polling is the cure (the scheduler then moves the client to an idle CPU). So
/// polling stops only when the run delay is high *and* the host had less than
/// `idleCPUsMin` idle CPUs in the window (`/proc/stat`): for a backoff that doubles while the
/// contention lasts, then it tries again.
struct PollGovernor {
    /// Where the thread's accumulated run delay comes from (ns), nil when unknown.
    typealias RunDelaySource = () -> UInt64?
    /// Where the host's accumulated idle time comes from (ns summed over CPUs), nil when unknown.
    typealias IdleSource = () -> UInt64?

    static let windowNanoseconds: UInt64 = 200_000_000
    static let runDelayShareMax = 0.10
    static let idleCPUsMin = 0.25
    static let backoffMinNanoseconds: UInt64 = 1_000_000_000
    static let backoffMaxNanoseconds: UInt64 = 8_000_000_000

    private let runDelay: RunDelaySource
    private let idle: IdleSource
    private var windowStart: UInt64 = 0
    private var delayAtWindowStart: UInt64 = 0
    private var idleAtWindowStart: UInt64?
    private var suspendedUntil: UInt64 = 0
    private var backoff = PollGovernor.backoffMinNanoseconds
    /// Times polling was suspended (stats and tests).
    private(set) var suspensions = 0

    init(runDelay: @escaping RunDelaySource = PollGovernor.threadRunDelay,
         idle: @escaping IdleSource = PollGovernor.hostIdle) {
        self.runDelay = runDelay
        self.idle = idle
    }

    /// Whether to poll at `now` (monotonic ns). Cheap: reads /proc once per window.
    mutating func mayPoll(now: UInt64) -> Bool {
        if now < suspendedUntil { return false }
        guard windowStart != 0, now >= windowStart else {
            startWindow(now)
            return true
        }
        let elapsed = now - windowStart
        guard elapsed >= Self.windowNanoseconds else { return true }
        guard let delay = runDelay() else { return true }
        let share = Double(delay &- delayAtWindowStart) / Double(elapsed)
        let idleCPUs = idle().flatMap { end in idleAtWindowStart.map { Double(end &- $0) / Double(elapsed) } }
        if share > Self.runDelayShareMax && (idleCPUs ?? 0) < Self.idleCPUsMin {
            suspensions += 1
            suspendedUntil = now + backoff
            backoff = min(backoff * 2, Self.backoffMaxNanoseconds)
            windowStart = 0
            return false
        }
        backoff = Self.backoffMinNanoseconds
        startWindow(now)
        return true
    }

    private mutating func startWindow(_ now: UInt64) {
        windowStart = now
        delayAtWindowStart = runDelay() ?? 0
        idleAtWindowStart = idle()
    }

    /// The calling thread's run delay from the kernel's schedstat (second field), nil where
    /// schedstats are not available.
    static func threadRunDelay() -> UInt64? {
        guard let fields = firstLineFields("/proc/thread-self/schedstat"), fields.count >= 2 else { return nil }
        return UInt64(fields[1])
    }

    /// Idle plus iowait time of all CPUs (the first line of /proc/stat), in nanoseconds.
    static func hostIdle() -> UInt64? {
        guard let fields = firstLineFields("/proc/stat"), fields.count >= 6, fields[0] == "cpu",
              let idle = UInt64(fields[4]), let iowait = UInt64(fields[5]) else { return nil }
        let ticksPerSecond = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        return (idle + iowait) * (1_000_000_000 / ticksPerSecond)
    }

    /// The whitespace-separated fields of a small /proc file's first line.
    private static func firstLineFields(_ path: String) -> [Substring]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 256)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let text = String(decoding: bytes[..<n], as: UTF8.self)
        return text.split(separator: "\n", maxSplits: 1).first?.split(separator: " ", omittingEmptySubsequences: true)
    }
}
