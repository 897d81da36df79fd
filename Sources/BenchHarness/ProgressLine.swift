import LoadGenerator

/// The live status line fio prints while jobs run: jobs, rates, IOPS.
enum ProgressLine {
    static func render(_ live: [String: WorkloadResult]) -> String {
        var readRate = 0.0, writeRate = 0.0, readIOPS = 0.0, writeIOPS = 0.0
        for result in live.values {
            readRate += result.read.bytesPerSecond(seconds: result.elapsedSeconds)
            writeRate += result.write.bytesPerSecond(seconds: result.elapsedSeconds)
            readIOPS += result.read.iops(seconds: result.elapsedSeconds)
            writeIOPS += result.write.iops(seconds: result.elapsedSeconds)
        }
        return "Jobs: \(live.count) [r=\(Units.bytesPerSecond(readRate)),w=\(Units.bytesPerSecond(writeRate))]"
            + "[r=\(Units.count(readIOPS)),w=\(Units.count(writeIOPS)) IOPS]"
    }
}
