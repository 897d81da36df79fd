import LoadGenerator
import StorageIO

/// One fio job, as parsed from a job file section or from command-line options.
public struct JobSpec: Sendable, Equatable {
    public var name: String
    /// fio's `filename`: a path, an NBD URI, or `vdi=UUID`.
    public var target: String?
    public var pattern: Workload.Pattern = .read
    public var blockSize = 4096
    public var ioDepth = 1
    public var numJobs = 1
    /// nil: the whole target from `offset`.
    public var size: UInt64?
    public var offset: UInt64 = 0
    public var runtimeSeconds: Double = 0
    public var timeBased = false
    public var rampSeconds: Double = 0
    public var direct = false
    public var verify = false
    public var fsync = 0
    public var readPercent: Int?
    public var groupReporting = false
    /// Wait for every earlier job before starting (fio's `stonewall`).
    public var stonewall = false
    /// fio's `ioengine`, mapped to ours for files (nil: automatic).
    public var engine: IOEngine?

    public init(name: String) { self.name = name }

    /// Whether the job writes at all (a read-only open is enough otherwise).
    public var writes: Bool { pattern != .read && pattern != .randread }

    /// The workload for a target of `targetSize` bytes; job `index` of `numJobs` gets its own seed.
    public func workload(targetSize: UInt64, index: Int) -> Workload {
        let length = size ?? (targetSize > offset ? targetSize - offset : 0)
        return Workload(pattern: pattern, blockSize: blockSize, queueDepth: ioDepth, regionOffset: offset,
                        regionLength: length, runtimeSeconds: runtimeSeconds > 0 ? runtimeSeconds : 3600,
                        rampSeconds: rampSeconds, timeBased: timeBased, readPercent: readPercent,
                        flushEvery: fsync, verify: verify, seed: 0x5eed &+ UInt64(index) &* 0x9E37_79B9)
    }
}
