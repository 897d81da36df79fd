import Foundation
import Histogram
import LoadGenerator

/// fio's `--output-format=json` shape for the fields existing fio tooling reads:
/// `jobs[].read|write.{io_bytes, bw, bw_bytes, iops, runtime, total_ios, clat_ns, lat_ns, slat_ns}`.
public enum FioJSON {
    public static let percentileKeys: [Double] = HumanReport.percentiles

    public static func document(_ outcomes: [JobOutcome], now: Date = Date()) -> [String: Any] {
        [
            "fio version": "sm-bench-1",
            "timestamp": Int(now.timeIntervalSince1970),
            "timestamp_ms": Int(now.timeIntervalSince1970 * 1000),
            "time": ISO8601DateFormatter().string(from: now),
            "jobs": outcomes.map(job),
        ]
    }

    public static func render(_ outcomes: [JobOutcome]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: document(outcomes), options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func job(_ outcome: JobOutcome) -> [String: Any] {
        let seconds = outcome.result.elapsedSeconds
        let j = outcome.job
        return [
            "jobname": j.name,
            "groupid": outcome.groupID,
            "error": outcome.error == nil ? 0 : 1,
            "error_text": outcome.error ?? "",
            "job options": [
                "filename": j.target ?? "", "rw": j.pattern.rawValue, "bs": "\(j.blockSize)",
                "iodepth": "\(j.ioDepth)", "numjobs": "\(j.numJobs)",
            ],
            "job_runtime": Int(seconds * 1000),
            "read": direction(outcome.result.read, seconds: seconds),
            "write": direction(outcome.result.write, seconds: seconds),
            "trim": direction(DirectionStats(), seconds: seconds),
            "sync": ["total_ios": Int(outcome.result.flushes), "lat_ns": latency(DirectionStats().latency, percentiles: false)],
        ]
    }

    static func direction(_ stats: DirectionStats, seconds: Double) -> [String: Any] {
        let bw = stats.bytesPerSecond(seconds: seconds)
        return [
            "io_bytes": Int(stats.bytes),
            "io_kbytes": Int(stats.bytes / 1024),
            "bw_bytes": Int(bw),
            "bw": Int(bw / 1024),
            "iops": stats.iops(seconds: seconds),
            "runtime": stats.ios > 0 ? Int(seconds * 1000) : 0,
            "total_ios": Int(stats.ios),
            "short_ios": 0,
            "drop_ios": 0,
            // Submission is not timed apart: completion latency is measured from submission.
            "slat_ns": latency(DirectionStats().latency, percentiles: false),
            "clat_ns": latency(stats.latency, percentiles: true),
            "lat_ns": latency(stats.latency, percentiles: false),
        ]
    }

    static func latency(_ h: Histogram<UInt64>, percentiles: Bool) -> [String: Any] {
        let empty = h.totalCount == 0
        var object: [String: Any] = [
            "min": empty ? 0 : Int(h.min), "max": empty ? 0 : Int(h.max),
            "mean": empty ? 0.0 : h.mean, "stddev": empty ? 0.0 : h.stdDeviation, "N": Int(h.totalCount),
        ]
        if percentiles && !empty {
            var table: [String: Int] = [:]
            for p in percentileKeys { table[String(format: "%.6f", p)] = Int(h.valueAtPercentile(p)) }
            object["percentile"] = table
        }
        return object
    }
}
