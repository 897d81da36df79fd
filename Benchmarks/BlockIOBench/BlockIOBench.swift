import ArgumentParser
import Foundation
import LoadGenerator
import StorageIO

/// Our BlockIO against fio on the same file, in the same run, alternating A B A B.
@main
struct BlockIOBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blockio-bench",
        abstract: "Runs 4 KiB random and 1 MiB sequential jobs through our BlockIO and through fio on the same file, and prints the ratios.")

    @Option(help: "Raw file to run on (created and fully written when its size differs).")
    var file = "bench-results/blockio-bench.img"
    @Option(name: .customLong("size-mib"), help: "File size in MiB.")
    var sizeMiB: UInt64 = 1024
    @Option(help: "Measured seconds per run.")
    var runtime: Double = 5
    @Option(help: "Ramp seconds per run (not measured).")
    var ramp: Double = 1
    @Option(help: "Rounds; each round runs ours and fio once per job, order alternating.")
    var rounds = 3
    @Option(help: "Our engine (uring, aio, threads); fio uses the matching ioengine.")
    var engine: IOEngine = .uring
    @Option(help: "How our loop submits: batched (one io_uring_enter per turn) or eager (after each completion).")
    var submit: SubmitPolicyArgument = .eager
    @Option(help: "Jobs to run, comma separated (default: all). Names as in the table.")
    var jobs: String?

    func run() throws {
        let size = sizeMiB << 20
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        print("preparing \(file) (\(sizeMiB) MiB, fully written)")
        try BenchFile.prepare(path: file, size: size)
        let selected = JobCatalog.jobs(size: size, runtime: runtime, ramp: ramp)
            .filter { job in jobs.map { $0.split(separator: ",").map(String.init).contains(job.name) } ?? true }
        guard !selected.isEmpty else { throw ValidationError("no job matches --jobs \(jobs ?? "")") }
        var table = ComparisonTable(engine: engine)
        for round in 0..<rounds {
            for job in selected {
                let oursFirst = round % 2 == 0
                var ours: RunFigures?
                var peer: RunFigures?
                for side in oursFirst ? [true, false] : [false, true] {
                    if side { ours = try OurRun.run(job.workload, file: file, engine: engine, policy: submit.policy) }
                    else { peer = try FioPeer.run(job.workload, file: file, engine: engine) }
                }
                table.add(job: job.name, ours: ours!, peer: peer!)
                print(String(format: "round %d %-22@ ours %9.0f IOPS  fio %9.0f IOPS  ratio %.2f",
                             round + 1, job.name, ours!.iops, peer!.iops, ours!.iops / max(peer!.iops, 1)))
            }
        }
        print()
        print(table.render())
        print("fio commands (per job):")
        for job in selected { print("  \(job.name): \(FioPeer.commandLine(job.workload, file: file, engine: engine))") }
    }
}

extension IOEngine: ExpressibleByArgument {}

enum SubmitPolicyArgument: String, ExpressibleByArgument {
    case batched, eager
    var policy: EventLoop.SubmitPolicy { self == .eager ? .eager : .batched }
}

/// The jobs of the issue: 4 KiB random read and write at QD 1, 32, 128; 1 MiB sequential.
enum JobCatalog {
    struct Job {
        let name: String
        let workload: Workload
    }

    static func jobs(size: UInt64, runtime: Double, ramp: Double) -> [Job] {
        func job(_ name: String, _ pattern: Workload.Pattern, _ bs: Int, _ qd: Int) -> Job {
            Job(name: name, workload: Workload(pattern: pattern, blockSize: bs, queueDepth: qd, regionLength: size,
                                               runtimeSeconds: runtime, rampSeconds: ramp))
        }
        return [
            job("randread-4k-qd1", .randread, 4096, 1),
            job("randread-4k-qd32", .randread, 4096, 32),
            job("randread-4k-qd128", .randread, 4096, 128),
            job("randwrite-4k-qd1", .randwrite, 4096, 1),
            job("randwrite-4k-qd32", .randwrite, 4096, 32),
            job("randwrite-4k-qd128", .randwrite, 4096, 128),
            job("read-1m-qd8", .read, 1 << 20, 8),
            job("write-1m-qd8", .write, 1 << 20, 8),
        ]
    }
}
