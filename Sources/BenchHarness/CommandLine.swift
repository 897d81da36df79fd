/// sm-bench's command line, fio's way: `--key=value` job options (each `--name=` starts a
/// new job; options before the first apply to all), job files as plain arguments, and
/// sm-bench's own switches.
public struct BenchCommandLine: Sendable, Equatable {
    public enum OutputFormat: String, Sendable { case normal, json }

    public var jobs: [JobSpec] = []
    public var outputFormat: OutputFormat = .normal
    public var outputPath: String?
    /// Compare mode: run every job against each of these targets in alternation.
    public var compareTargets: [String] = []
    public var rounds = 3
    public var plotPath: String?
    public var showHelp = false

    public static let usage = """
        usage: sm-bench [options] [jobfile ...] [--name=JOB --key=value ...]
          fio job options: name, filename (path | nbd://... | nbd+unix:///...?socket=P | vdi=UUID), rw, rwmixread,
            bs, iodepth, numjobs, size, offset, runtime, time_based, ramp_time, direct, verify=crc32c, fsync,
            group_reporting, stonewall, ioengine (io_uring | libaio | psync | nbd)
          --output-format=normal|json   --output=FILE   --plot=FILE.svg
          --compare=TARGET,TARGET[,...] [--rounds=N]   run each job against every target, alternating
        """

    /// Parses arguments; `readFile` loads job files (injected for tests).
    public static func parse(_ arguments: [String], readFile: (String) throws -> String) throws -> BenchCommandLine {
        var result = BenchCommandLine()
        var global = JobSpec(name: "")
        var current: JobSpec?
        for (index, argument) in arguments.enumerated() {
            let source = OptionSource(file: "argument \(index + 1)", line: 0)
            guard argument.hasPrefix("--") else {
                if let job = current { result.jobs.append(job); current = nil }
                result.jobs += try JobFile.parse(try readFile(argument), file: argument, defaults: global)
                continue
            }
            let (key, value) = JobFile.splitOption(String(argument.dropFirst(2)))
            switch key {
            case "help", "h": result.showHelp = true
            case "output-format":
                guard let format = value.flatMap(OutputFormat.init(rawValue:)) else {
                    throw JobFileError.badValue(source, key: key, value: value ?? "", expected: "normal or json")
                }
                result.outputFormat = format
            case "output": result.outputPath = value
            case "plot": result.plotPath = value
            case "compare":
                result.compareTargets = (value ?? "").split(separator: ",").map(String.init)
                guard result.compareTargets.count >= 2 else {
                    throw JobFileError.badValue(source, key: key, value: value ?? "", expected: "two or more comma-separated targets")
                }
            case "rounds":
                guard let rounds = value.flatMap({ Int($0) }), rounds > 0 else {
                    throw JobFileError.badValue(source, key: key, value: value ?? "", expected: "a positive integer")
                }
                result.rounds = rounds
            case "name":
                if let job = current { result.jobs.append(job) }
                current = global
                try JobOption.apply(key, value, to: &current!, source: source)
            default:
                if current != nil {
                    try JobOption.apply(key, value, to: &current!, source: source)
                } else {
                    try JobOption.apply(key, value, to: &global, source: source)
                }
            }
        }
        if let job = current { result.jobs.append(job) }
        if result.jobs.isEmpty && !result.showHelp && global != JobSpec(name: "") {
            // Options without --name: one job, as fio does.
            var job = global
            job.name = "job"
            result.jobs.append(job)
        }
        return result
    }
}
