import LoadGenerator

/// What one job (all its numjobs instances, merged when group_reporting) achieved.
public struct JobOutcome: Sendable {
    public var job: JobSpec
    public var groupID: Int
    public var instances: Int
    public var result: WorkloadResult
    public var error: String?

    /// Merges instances of one job: counts add up, latencies merge, time is the longest.
    static func merged(_ outcomes: [JobOutcome]) -> JobOutcome {
        var merged = outcomes[0]
        for other in outcomes.dropFirst() {
            merged.instances += other.instances
            merged.result.read.ios += other.result.read.ios
            merged.result.read.bytes += other.result.read.bytes
            merged.result.read.latency.add(other.result.read.latency)
            merged.result.write.ios += other.result.write.ios
            merged.result.write.bytes += other.result.write.bytes
            merged.result.write.latency.add(other.result.write.latency)
            merged.result.flushes += other.result.flushes
            merged.result.elapsedSeconds = max(merged.result.elapsedSeconds, other.result.elapsedSeconds)
            merged.error = merged.error ?? other.error
        }
        return merged
    }
}
