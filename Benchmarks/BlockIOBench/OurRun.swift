import LoadGenerator
import StorageIO

/// Our io_uring (or forced-engine) BlockIO running the same job on the same file.
enum OurRun {
    static func run(_ w: Workload, file: String, engine: IOEngine, policy: EventLoop.SubmitPolicy) throws -> RunFigures {
        let loop = try EventLoop(driver: engine == .uring ? .uring : nil)
        loop.submitPolicy = policy
        let store = try LocalFile.open(file, on: loop, options: .init(direct: true, engine: engine))
        defer { store.close() }
        let result = try WorkloadRunner(store: store, workload: w).run()
        let latency = result.combinedLatency
        return RunFigures(iops: result.totalIOPS, bytesPerSecond: result.totalBytesPerSecond,
                          p50Microseconds: Double(latency.valueAtPercentile(50)) / 1000,
                          p99Microseconds: Double(latency.valueAtPercentile(99)) / 1000)
    }
}
