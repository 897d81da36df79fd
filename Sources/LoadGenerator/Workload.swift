/// An I/O workload as fio describes one job: pattern, block size, queue depth, region, time.
public struct Workload: Sendable, Equatable {
    /// fio's `rw=`.
    public enum Pattern: String, Sendable, CaseIterable {
        case read, write, randread, randwrite, randrw, readwrite

        public var isRandom: Bool { self == .randread || self == .randwrite || self == .randrw }
        /// Share of reads in percent, before `rwmixread` applies to the mixed patterns.
        var defaultReadPercent: Int {
            switch self {
            case .read, .randread: 100
            case .write, .randwrite: 0
            case .randrw, .readwrite: 50
            }
        }
    }

    public var pattern: Pattern
    public var blockSize: Int
    public var queueDepth: Int
    /// Where in the target the workload runs (fio's `offset` and `size`).
    public var regionOffset: UInt64
    public var regionLength: UInt64
    /// Measured time; with `timeBased` false the job also stops after one pass over the region.
    public var runtimeSeconds: Double
    public var rampSeconds: Double
    public var timeBased: Bool
    /// Percentage of reads for the mixed patterns (fio's `rwmixread`).
    public var readPercent: Int
    /// Issue a flush after this many writes (fio's `fsync=`), 0 for never.
    public var flushEvery: Int
    /// Write self-checking blocks and check every block read (fio's `verify=crc32c`); a job
    /// that writes reads back everything it wrote at the end.
    public var verify: Bool
    public var seed: UInt64

    public init(pattern: Pattern, blockSize: Int, queueDepth: Int, regionOffset: UInt64 = 0,
                regionLength: UInt64, runtimeSeconds: Double, rampSeconds: Double = 0,
                timeBased: Bool = true, readPercent: Int? = nil, flushEvery: Int = 0, verify: Bool = false,
                seed: UInt64 = 0x5eed) {
        self.pattern = pattern
        self.blockSize = blockSize
        self.queueDepth = queueDepth
        self.regionOffset = regionOffset
        self.regionLength = regionLength
        self.runtimeSeconds = runtimeSeconds
        self.rampSeconds = rampSeconds
        self.timeBased = timeBased
        self.readPercent = readPercent ?? pattern.defaultReadPercent
        self.flushEvery = flushEvery
        self.verify = verify
        self.seed = seed
    }

    /// Checks the workload against a target of `targetSize` bytes with `alignment`.
    public func validate(targetSize: UInt64, alignment: Int) throws(WorkloadError) {
        if blockSize <= 0 || blockSize % alignment != 0 {
            throw .invalid("bs=\(blockSize) must be a positive multiple of the target's alignment \(alignment)")
        }
        if queueDepth < 1 || queueDepth > 4096 { throw .invalid("iodepth=\(queueDepth) must be 1...4096") }
        if regionOffset % UInt64(alignment) != 0 { throw .invalid("offset=\(regionOffset) is not aligned to \(alignment)") }
        if regionLength < UInt64(blockSize) { throw .invalid("size=\(regionLength) is smaller than bs=\(blockSize)") }
        if regionOffset + regionLength > targetSize {
            throw .invalid("offset+size=\(regionOffset + regionLength) exceeds the target's \(targetSize) bytes")
        }
        if !(0...100).contains(readPercent) { throw .invalid("rwmixread=\(readPercent) must be 0...100") }
        if runtimeSeconds <= 0 && timeBased { throw .invalid("time_based needs runtime > 0") }
        if verify && blockSize < VerifyBlock.headerBytes + 8 { throw .invalid("verify needs bs >= 64") }
    }
}

public enum WorkloadError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    case io(String)
    case verify(offset: UInt64, problem: String)

    public var description: String {
        switch self {
        case let .invalid(text): "invalid workload: \(text)"
        case let .io(text): "I/O failed: \(text)"
        case let .verify(offset, problem): "verify failed at offset \(offset): \(problem)"
        }
    }
}
