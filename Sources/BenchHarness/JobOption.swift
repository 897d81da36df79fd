import LoadGenerator
import StorageIO

/// Where an option came from, so an error names the line (job file) or the argument.
public struct OptionSource: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { line > 0 ? "\(file):\(line)" : file }
}

public enum JobFileError: Error, Equatable, CustomStringConvertible {
    case unknownKey(OptionSource, key: String)
    case badValue(OptionSource, key: String, value: String, expected: String)
    case syntax(OptionSource, text: String)
    case noTarget(job: String)
    case noJobs(String)

    public var description: String {
        switch self {
        case let .unknownKey(source, key): "\(source): unknown option '\(key)'"
        case let .badValue(source, key, value, expected): "\(source): option '\(key)': '\(value)' is not \(expected)"
        case let .syntax(source, text): "\(source): cannot parse '\(text)' (expected [section] or key=value)"
        case let .noTarget(job): "job '\(job)': no filename (a path, an nbd:// URI or vdi=UUID)"
        case let .noJobs(origin): "\(origin): no jobs defined"
        }
    }
}

/// The fio options sm-bench understands, and how each changes a job.
enum JobOption {
    /// Applies `key=value` to `job`; `value` is nil for a bare flag.
    static func apply(_ key: String, _ value: String?, to job: inout JobSpec, source: OptionSource) throws(JobFileError) {
        func need(_ expected: String) throws(JobFileError) -> String {
            guard let value, !value.isEmpty else {
                throw .badValue(source, key: key, value: value ?? "", expected: expected)
            }
            return value
        }
        func parsed<T>(_ convert: (String) -> T?, _ expected: String) throws(JobFileError) -> T {
            let text = try need(expected)
            guard let result = convert(text) else { throw .badValue(source, key: key, value: text, expected: expected) }
            return result
        }
        func flag() throws(JobFileError) -> Bool {
            guard let result = OptionValue.bool(value) else {
                throw .badValue(source, key: key, value: value ?? "", expected: "a boolean (0 or 1)")
            }
            return result
        }
        let positiveInt: (String) -> Int? = { Int($0).flatMap { $0 > 0 ? $0 : nil } }
        switch key {
        case "name": job.name = try need("a job name")
        case "description", "thread", "randrepeat", "norandommap", "invalidate", "unified_rw_reporting",
             "allrandrepeat", "output-format", "kb_base", "fallocate":
            break // accepted for compatibility; they change nothing measurable here
        case "filename", "target": job.target = try need("a path, an nbd:// URI or vdi=UUID")
        case "rw", "readwrite":
            job.pattern = try parsed({ $0 == "rw" ? .readwrite : Workload.Pattern(rawValue: $0) },
                                     "one of read, write, randread, randwrite, randrw, readwrite")
        case "rwmixread": job.readPercent = try parsed({ Int($0).flatMap { (0...100).contains($0) ? $0 : nil } }, "0...100")
        case "rwmixwrite": job.readPercent = 100 - (try parsed({ Int($0).flatMap { (0...100).contains($0) ? $0 : nil } }, "0...100"))
        case "bs", "blocksize": job.blockSize = Int(try parsed({ OptionValue.size($0).flatMap { $0 > 0 && $0 <= 64 << 20 ? $0 : nil } }, "a block size up to 64M"))
        case "iodepth": job.ioDepth = try parsed({ positiveInt($0).flatMap { $0 <= 4096 ? $0 : nil } }, "an integer 1...4096")
        case "numjobs": job.numJobs = try parsed({ positiveInt($0).flatMap { $0 <= 64 ? $0 : nil } }, "an integer 1...64")
        case "size": job.size = try parsed({ OptionValue.size($0).flatMap { $0 > 0 ? $0 : nil } }, "a size such as 1g")
        case "offset": job.offset = try parsed(OptionValue.size, "a size such as 4k")
        case "runtime": job.runtimeSeconds = try parsed({ OptionValue.seconds($0).flatMap { $0 > 0 ? $0 : nil } }, "a time such as 10s")
        case "ramp_time": job.rampSeconds = try parsed({ OptionValue.seconds($0).flatMap { $0 >= 0 ? $0 : nil } }, "a time such as 2s")
        case "time_based": job.timeBased = try flag()
        case "direct": job.direct = try flag()
        case "buffered": job.direct = !(try flag())
        case "group_reporting": job.groupReporting = try flag()
        case "stonewall", "wait_for_previous": job.stonewall = try flag()
        case "fsync": job.fsync = try parsed({ Int($0).flatMap { $0 >= 0 ? $0 : nil } }, "a count of writes (0: never)")
        case "verify":
            let text = try need("crc32c or 0")
            switch text {
            case "crc32c", "crc32c-intel": job.verify = true
            case "0", "none": job.verify = false
            default: throw .badValue(source, key: key, value: text, expected: "crc32c (the only verify method supported) or 0")
            }
        case "ioengine":
            let text = try need("an ioengine")
            switch text {
            case "io_uring": job.engine = .uring
            case "libaio": job.engine = .aio
            case "psync", "sync", "pvsync", "pvsync2": job.engine = .threads
            case "nbd": job.engine = nil // the target URI selects NBD
            default: throw .badValue(source, key: key, value: text, expected: "one of io_uring, libaio, psync, nbd")
            }
        case "uri": job.target = try need("an NBD URI")
        default:
            throw .unknownKey(source, key: key)
        }
    }
}
