import Foundation
import LoadGenerator
import StorageIO

/// One measured run, ours or fio's, reduced to what the comparison table shows.
struct RunFigures {
    var iops: Double
    var bytesPerSecond: Double
    var p50Microseconds: Double
    var p99Microseconds: Double
}

/// fio run on the same file with the same job: the peer every figure is a ratio against.
enum FioPeer {
    /// fio's `--ioengine` matching one of our engines.
    static func ioengine(for engine: IOEngine) -> String {
        switch engine {
        case .uring: "io_uring"
        case .aio: "libaio"
        case .threads: "psync"
        }
    }

    static func arguments(_ w: Workload, file: String, engine: IOEngine) -> [String] {
        [
            "--name=peer", "--output-format=json", "--filename=\(file)",
            "--offset=\(w.regionOffset)", "--size=\(w.regionLength)",
            "--direct=1", "--ioengine=\(ioengine(for: engine))",
            "--rw=\(w.pattern.rawValue)", "--bs=\(w.blockSize)", "--iodepth=\(w.queueDepth)",
            "--runtime=\(w.runtimeSeconds)", "--ramp_time=\(w.rampSeconds)", "--time_based=1",
            "--norandommap=1", "--randrepeat=0", "--invalidate=0", "--group_reporting=1",
        ]
    }

    /// The exact command line, for the record.
    static func commandLine(_ w: Workload, file: String, engine: IOEngine) -> String {
        (["fio"] + arguments(w, file: file, engine: engine)).joined(separator: " ")
    }

    static func run(_ w: Workload, file: String, engine: IOEngine) throws -> RunFigures {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["fio"] + arguments(w, file: file, engine: engine)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("fio exited with status \(process.terminationStatus): \(commandLine(w, file: file, engine: engine))")
        }
        return try parse(data)
    }

    /// Reads fio's JSON: jobs[0].read|write.{iops, bw_bytes, clat_ns.percentile}.
    static func parse(_ data: Data) throws -> RunFigures {
        // fio may print notices before the JSON object.
        guard let start = data.firstIndex(of: UInt8(ascii: "{")) else { throw BenchError("fio printed no JSON") }
        let object = try JSONSerialization.jsonObject(with: data[start...])
        guard let root = object as? [String: Any], let jobs = root["jobs"] as? [[String: Any]],
              let job = jobs.first else { throw BenchError("fio JSON has no jobs") }
        var figures = RunFigures(iops: 0, bytesPerSecond: 0, p50Microseconds: 0, p99Microseconds: 0)
        var weight = 0.0
        for direction in ["read", "write"] {
            guard let stats = job[direction] as? [String: Any] else { continue }
            let iops = (stats["iops"] as? Double) ?? 0
            figures.iops += iops
            figures.bytesPerSecond += (stats["bw_bytes"] as? Double) ?? 0
            if iops > 0, let clat = stats["clat_ns"] as? [String: Any],
               let percentiles = clat["percentile"] as? [String: Any] {
                let p50 = (percentiles["50.000000"] as? Double) ?? 0
                let p99 = (percentiles["99.000000"] as? Double) ?? 0
                figures.p50Microseconds += p50 / 1000 * iops
                figures.p99Microseconds += p99 / 1000 * iops
                weight += iops
            }
        }
        if weight > 0 {
            figures.p50Microseconds /= weight
            figures.p99Microseconds /= weight
        }
        return figures
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
