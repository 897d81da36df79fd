import Histogram

/// What one direction (reads or writes) of a workload achieved.
public struct DirectionStats: Sendable {
    public var ios: UInt64 = 0
    public var bytes: UInt64 = 0
    /// Completion latency, submission to completion, in nanoseconds.
    public var latency = Histogram<UInt64>(lowestDiscernibleValue: 100, highestTrackableValue: 60_000_000_000,
                                           numberOfSignificantValueDigits: .three)

    public init() {}

    public func iops(seconds: Double) -> Double { seconds > 0 ? Double(ios) / seconds : 0 }
    public func bytesPerSecond(seconds: Double) -> Double { seconds > 0 ? Double(bytes) / seconds : 0 }
    public func latencyPercentile(_ p: Double) -> UInt64 { latency.totalCount == 0 ? 0 : latency.valueAtPercentile(p) }
}

/// The measured part of a workload run (ramp excluded).
public struct WorkloadResult: Sendable {
    public var read = DirectionStats()
    public var write = DirectionStats()
    public var flushes: UInt64 = 0
    public var elapsedSeconds: Double = 0

    public init() {}

    public var totalIOPS: Double { read.iops(seconds: elapsedSeconds) + write.iops(seconds: elapsedSeconds) }
    public var totalBytesPerSecond: Double {
        read.bytesPerSecond(seconds: elapsedSeconds) + write.bytesPerSecond(seconds: elapsedSeconds)
    }
    /// Both directions' latencies together.
    public var combinedLatency: Histogram<UInt64> {
        var all = read.latency
        all.add(write.latency)
        return all
    }
}
