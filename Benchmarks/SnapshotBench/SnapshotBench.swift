import Foundation
import SREngine

/// Snapshot and clone latency of a 1 GiB and of a 2040 GiB (the VHD maximum) VDI, in one
/// run, alternating the two sizes, through the engine in process (no fork/exec per call).
/// Each timed operation is journaled and fsynced like any other. Between operations the
/// blank pool is refilled untimed, as the background worker (sm-gc) does after each one;
/// `--no-blanks` turns the pool off to show the cost without it. Usage:
///   snapshot-bench [DIR] [REPEATS] [--no-blanks]
@main
struct SnapshotBench {
    static func main() throws {
        let blanks = !CommandLine.arguments.contains("--no-blanks")
        let arguments = CommandLine.arguments.filter { $0 != "--no-blanks" }
        let dir = arguments.count > 1 ? arguments[1] : "bench-results/snapshot"
        let repeats = arguments.count > 2 ? Int(arguments[2]) ?? 20 : 20
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let manager = SRManager(options: EngineOptions(lockDirectory: dir + "/locks", blankPoolTarget: blanks ? SRLimits.blankPoolTarget : 0))
        let sr = try manager.create(type: "file", deviceConfig: ["location": dir], nameLabel: "snapshot-bench")
        let sizes: [(String, UInt64)] = [("1 GiB", 1 << 30), ("2040 GiB", 2040 << 30)]
        // Snapshots pile up on each VDI's chain; a fresh VDI every 25 keeps under depth 30.
        var vdis = try sizes.map { try sr.createVDI(VDISpec(virtualSize: $0.1, nameLabel: $0.0)).uuid }
        var samples: [String: [Double]] = [:]
        for i in 0..<repeats {
            if i > 0 && i % 12 == 0 {
                vdis = try sizes.map { try sr.createVDI(VDISpec(virtualSize: $0.1, nameLabel: $0.0)).uuid }
            }
            let order = i % 2 == 0 ? Array(sizes.indices) : sizes.indices.reversed()
            for index in order {
                for (operation, clone) in [("snapshot", false), ("clone", true)] {
                    try sr.refillBlanks()
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = try sr.snapshot(vdis[index], clone: clone)
                    let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                    samples["\(operation) \(sizes[index].0)", default: []].append(ms)
                }
            }
        }
        print("| operation | VDI size | median ms | min–max ms | samples |")
        print("|---|---|---|---|---|")
        for operation in ["snapshot", "clone"] {
            for (label, _) in sizes {
                let values = samples["\(operation) \(label)"]!.sorted()
                print(String(format: "| %@ | %@ | %.2f | %.2f–%.2f | %d |", operation, label,
                             values[values.count / 2], values.first!, values.last!, values.count))
            }
            let small = samples["\(operation) 1 GiB"]!.sorted(), large = samples["\(operation) 2040 GiB"]!.sorted()
            print(String(format: "| %@ | 2040 GiB / 1 GiB | ratio %.2f | | |", operation,
                         large[large.count / 2] / small[small.count / 2]))
        }
    }
}
