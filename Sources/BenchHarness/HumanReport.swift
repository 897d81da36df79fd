import Foundation
import Histogram
import LoadGenerator

/// fio's normal output, for the fields that matter: per job and direction, IOPS, bandwidth,
/// completion latency min/avg/max/stdev and percentiles.
public enum HumanReport {
    static let percentiles: [Double] = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99]

    public static func render(_ outcomes: [JobOutcome]) -> String {
        outcomes.map(render).joined(separator: "\n")
    }

    static func render(_ outcome: JobOutcome) -> String {
        let job = outcome.job
        var lines = ["\(job.name): (groupid=\(outcome.groupID), jobs=\(outcome.instances)): err=\(outcome.error == nil ? " 0" : " 1"): "
                     + "rw=\(job.pattern.rawValue), bs=\(job.blockSize), iodepth=\(job.ioDepth), target=\(job.target ?? "-")"]
        if let error = outcome.error { lines.append("  error: \(error)") }
        let seconds = outcome.result.elapsedSeconds
        for (label, stats) in [("read", outcome.result.read), ("write", outcome.result.write)] where stats.ios > 0 {
            lines.append("  \(label): IOPS=\(Units.count(stats.iops(seconds: seconds))), "
                         + "BW=\(Units.bytesPerSecond(stats.bytesPerSecond(seconds: seconds))) "
                         + "(\(Units.bytes(Double(stats.bytes)))/\(Int(seconds * 1000))msec)")
            let h = stats.latency
            lines.append(String(format: "    clat (usec): min=%.1f, max=%.1f, avg=%.2f, stdev=%.2f",
                                Double(h.min) / 1000, Double(h.max) / 1000, h.mean / 1000, h.stdDeviation / 1000))
            lines.append("    clat percentiles (usec):")
            let cells = percentiles.map { p in
                String(format: "%6.2fth=[%.0f]", p, Double(h.valueAtPercentile(p)) / 1000)
            }
            for row in stride(from: 0, to: cells.count, by: 4) {
                lines.append("     | " + cells[row..<min(row + 4, cells.count)].joined(separator: ", "))
            }
        }
        if outcome.result.flushes > 0 { lines.append("  sync: \(outcome.result.flushes) flushes") }
        return lines.joined(separator: "\n")
    }
}
