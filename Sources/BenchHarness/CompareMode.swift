import Foundation
import LoadGenerator

/// One job run against several targets in alternation (A B A B ..., order reversed every
/// other round so drift hits every target alike), with medians and per-round ratios.
public struct CompareMode {
    public let targets: [String]
    public let rounds: Int
    /// A spread ((max − min) / median) above this makes a median untrustworthy.
    public static let spreadTrustMax = 0.15

    public init(targets: [String], rounds: Int) {
        self.targets = targets
        self.rounds = rounds
    }

    public struct Row {
        public var job: String
        public var target: String
        public var iops: [Double]
        public var bandwidth: [Double]
        public var p99: [Double]
        /// This target's IOPS over the first target's, per round.
        public var ratios: [Double]
    }

    public func run(_ jobs: [JobSpec], runner: JobRunner, log: (String) -> Void) throws -> [Row] {
        var rows: [Row] = []
        for job in jobs {
            var perTarget = targets.map { Row(job: job.name, target: $0, iops: [], bandwidth: [], p99: [], ratios: []) }
            for round in 0..<rounds {
                let order = round % 2 == 0 ? Array(targets.indices) : targets.indices.reversed()
                var roundIOPS = [Double](repeating: 0, count: targets.count)
                for index in order {
                    var variant = job
                    variant.target = targets[index]
                    variant.groupReporting = true
                    variant.stonewall = false
                    let outcome = try runner.run([variant])[0]
                    if let error = outcome.error { throw CompareError.runFailed(target: targets[index], error) }
                    let r = outcome.result
                    roundIOPS[index] = r.totalIOPS
                    perTarget[index].iops.append(r.totalIOPS)
                    perTarget[index].bandwidth.append(r.totalBytesPerSecond)
                    perTarget[index].p99.append(Double(r.combinedLatency.valueAtPercentile(99)) / 1000)
                    log("round \(round + 1) \(job.name) \(targets[index]): \(Units.count(r.totalIOPS)) IOPS")
                }
                for index in targets.indices {
                    perTarget[index].ratios.append(roundIOPS[index] / max(roundIOPS[0], 1))
                }
            }
            rows += perTarget
        }
        return rows
    }

    public static func render(_ rows: [Row]) -> String {
        var lines = ["| job | target | IOPS median | spread | MiB/s median | p99 µs median | IOPS ratio to first, median (min–max) | trust |",
                     "|---|---|---|---|---|---|---|---|"]
        for row in rows {
            let med = median(row.iops)
            let spread = med > 0 ? (row.iops.max()! - row.iops.min()!) / med : 0
            lines.append(String(format: "| %@ | %@ | %.0f | %.0f%% | %.1f | %.0f | %.2f (%.2f–%.2f) | %@ |",
                                row.job, row.target, med, spread * 100, median(row.bandwidth) / 1_048_576,
                                median(row.p99), median(row.ratios), row.ratios.min()!, row.ratios.max()!,
                                spread > spreadTrustMax ? "spread too wide to trust" : "ok"))
        }
        return lines.joined(separator: "\n")
    }
}

public enum CompareError: Error, CustomStringConvertible {
    case runFailed(target: String, String)

    public var description: String {
        switch self {
        case let .runFailed(target, error): "compare: the run against \(target) failed: \(error)"
        }
    }
}

public func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
