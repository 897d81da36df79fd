import Foundation

/// Per-job medians of both sides and the median of the per-round ratios.
struct ComparisonTable {
    let engine: IOEngineName
    private var order: [String] = []
    private var rows: [String: [(ours: RunFigures, peer: RunFigures)]] = [:]

    init(engine: CustomStringConvertible) { self.engine = IOEngineName(engine.description) }

    mutating func add(job: String, ours: RunFigures, peer: RunFigures) {
        if rows[job] == nil { order.append(job) }
        rows[job, default: []].append((ours, peer))
    }

    func render() -> String {
        var lines = [
            "| job | ours IOPS | fio IOPS | ours MiB/s | fio MiB/s | ours p50/p99 µs | fio clat p50/p99 µs | IOPS ratio median (min–max) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for job in order {
            let runs = rows[job]!
            let ratios = runs.map { $0.ours.iops / max($0.peer.iops, 1) }
            func med(_ f: (RunFigures) -> Double, _ side: Bool) -> Double {
                median(runs.map { f(side ? $0.ours : $0.peer) })
            }
            lines.append(String(
                format: "| %@ | %.0f | %.0f | %.1f | %.1f | %.0f / %.0f | %.0f / %.0f | %.2f (%.2f–%.2f) |",
                job, med({ $0.iops }, true), med({ $0.iops }, false),
                med({ $0.bytesPerSecond }, true) / 1_048_576, med({ $0.bytesPerSecond }, false) / 1_048_576,
                med({ $0.p50Microseconds }, true), med({ $0.p99Microseconds }, true),
                med({ $0.p50Microseconds }, false), med({ $0.p99Microseconds }, false),
                median(ratios), ratios.min()!, ratios.max()!))
        }
        return "engine: ours=\(engine.name), fio=matching ioengine\n" + lines.joined(separator: "\n")
    }
}

struct IOEngineName {
    let name: String
    init(_ name: String) { self.name = name }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
