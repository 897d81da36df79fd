import NBD

/// Request latencies in fixed buckets: exact below 8 ns, then 8 buckets per power of two
/// (so a bucket is at most 12.5% wide). Recording is an index computation and an
/// increment in memory allocated once: nothing on the hot path allocates or locks.
struct LatencyHistogram {
    static let subBucketBits = 3
    static let subBuckets = 1 << subBucketBits
    /// Enough buckets for any UInt64 value.
    static let bucketCount = (64 - subBucketBits + 1) * subBuckets

    /// The bucket of `value`: values below `subBuckets` map to themselves; above, the power of
    /// two picks a row of `subBuckets` and the next bits below the top one pick the column.
    @inline(__always)
    static func index(_ value: UInt64) -> Int {
        guard value >= UInt64(subBuckets) else { return Int(value) }
        let top = 63 - value.leadingZeroBitCount
        let shift = top - subBucketBits
        return (shift + 1) * subBuckets + Int((value >> UInt64(shift)) & UInt64(subBuckets - 1))
    }

    /// The largest value that lands in bucket `index` (what a percentile reports).
    static func highestValue(_ index: Int) -> UInt64 {
        guard index >= subBuckets * 2 else { return UInt64(index) }
        let shift = index / subBuckets - 1
        let column = UInt64(index % subBuckets + subBuckets)
        let low = column << UInt64(shift)
        return low + ((1 << UInt64(shift)) - 1)
    }
}

/// What the control socket reports about one export: counters per NBD command and latency
/// percentiles, kept by the connections on the loop thread.
///
/// One row per NBD command (by its wire value) plus one for requests whose command was not
/// valid; each row has request, byte and error counts and a `LatencyHistogram`.
final class ExportStats {
    static let rowCount = 9
    static let invalidRow = 8
    /// Columns of a row's counters.
    private enum Column { static let requests = 0, bytes = 1, errors = 2, count = 3 }

    private let counters: UnsafeMutablePointer<UInt64>
    private let buckets: UnsafeMutablePointer<UInt64>
    /// Requests of this export being served by the backend now.
    private(set) var inflight = 0
    /// Pauses completed since the daemon started.
    var pauses = 0

    init() {
        counters = .allocate(capacity: Self.rowCount * Column.count)
        counters.initialize(repeating: 0, count: Self.rowCount * Column.count)
        buckets = .allocate(capacity: Self.rowCount * LatencyHistogram.bucketCount)
        buckets.initialize(repeating: 0, count: Self.rowCount * LatencyHistogram.bucketCount)
    }

    deinit {
        counters.deallocate()
        buckets.deallocate()
    }

    @inline(__always)
    static func row(_ command: NBDCommand?) -> Int {
        guard let command, Int(command.rawValue) < invalidRow else { return invalidRow }
        return Int(command.rawValue)
    }

    @inline(__always)
    func started() { inflight += 1 }

    /// A request the backend finished after `nanoseconds`.
    @inline(__always)
    func completed(_ command: NBDCommand, bytes: Int, failed: Bool, nanoseconds: UInt64) {
        inflight -= 1
        let row = Self.row(command)
        let c = counters + row * Column.count
        c[Column.requests] += 1
        c[Column.bytes] += UInt64(bytes)
        if failed { c[Column.errors] += 1 }
        buckets[row * LatencyHistogram.bucketCount + LatencyHistogram.index(nanoseconds)] += 1
    }

    /// A request refused before reaching the backend (out of range, read-only, bad command).
    @inline(__always)
    func rejected(_ command: NBDCommand?) {
        let c = counters + Self.row(command) * Column.count
        c[Column.requests] += 1
        c[Column.errors] += 1
    }

    /// The rows with any request, as the control protocol reports them.
    func report() -> [ControlOpStats] {
        (0..<Self.rowCount).compactMap { row in
            let c = counters + row * Column.count
            guard c[Column.requests] > 0 else { return nil }
            let name = row == Self.invalidRow ? "invalid" : NBDCommand(rawValue: UInt16(row)).map(Self.opName) ?? "invalid"
            return ControlOpStats(op: name, requests: c[Column.requests], bytes: c[Column.bytes], errors: c[Column.errors],
                                  latencyMicroseconds: percentiles(row))
        }
    }

    /// p50, p90, p99 and p99.9 of a row (bucket upper bounds, in microseconds); nil when
    /// no request of this kind reached the backend.
    private func percentiles(_ row: Int) -> ControlPercentiles? {
        let b = buckets + row * LatencyHistogram.bucketCount
        var total: UInt64 = 0
        for i in 0..<LatencyHistogram.bucketCount { total += b[i] }
        guard total > 0 else { return nil }
        let fractions = [0.5, 0.9, 0.99, 0.999]
        var values: [Double] = []
        var seen: UInt64 = 0
        var i = 0
        for f in fractions {
            // The smallest bucket at which at least this fraction of requests is counted.
            let rank = max(1, UInt64((Double(total) * f).rounded(.up)))
            while seen + b[i] < rank { seen += b[i]; i += 1 }
            values.append(Double(LatencyHistogram.highestValue(i)) / 1000)
        }
        return ControlPercentiles(p50: values[0], p90: values[1], p99: values[2], p99_9: values[3])
    }

    static func opName(_ command: NBDCommand) -> String {
        switch command {
        case .read: "read"
        case .write: "write"
        case .disconnect: "disconnect"
        case .flush: "flush"
        case .trim: "trim"
        case .cache: "cache"
        case .writeZeroes: "write-zeroes"
        case .blockStatus: "block-status"
        }
    }
}
