import StorageIO

/// Which requests a simulated disk fails, and how it delays and reorders completions.
///
/// A plan is a value built up from small parts (`FaultPlan().failingReads(in:).delaying(...)`
/// or `plan1 + plan2`), so a test states exactly the faults it means and nothing else. Every
/// choice a plan leaves to chance is drawn from the disk's seeded generator, so the same seed
/// and the same plan fail the same requests.
public struct FaultPlan: Sendable, Equatable {
    /// Read and write failures (EIO).
    public var ioFaults: [IOFault] = []
    /// Writes fail with ENOSPC once the bytes accepted by writes would exceed this.
    public var noSpaceAfterBytes: UInt64?
    /// Which flushes fail (EIO) and drop the writes they should have made durable: every write
    /// that completed before the flush was submitted, i.e. all pending writes when the caller
    /// waits for each request (the sync helpers).
    public var flushFaults: [FlushFault] = []
    /// A request completes up to this many loop turns after it was submitted (0: next turn).
    public var maxDelayTurns = 0
    /// Requests released on the same turn complete in a seeded random order.
    public var reorder = false
    /// The power fails when request number `n + 1` is submitted (counted from 1 over every
    /// submit, including rejected ones): the disk crashes as by `crash(torn:)` and the request
    /// fails with `.closed`. Lets a test cut the power in the middle of a higher-level operation.
    public var powerLossAfterRequests: Int?

    public init() {}

    /// No faults, no delay: completions on the next turn in submission order.
    public static let none = FaultPlan()

    /// Reads overlapping the byte range `range` fail with EIO.
    public func failingReads(in range: Range<UInt64>) -> FaultPlan { adding(IOFault(.read, .range(range))) }
    /// Writes (and discards) overlapping the byte range `range` fail with EIO.
    public func failingWrites(in range: Range<UInt64>) -> FaultPlan { adding(IOFault(.write, .range(range))) }
    /// The `n`th read (1-based, counting reads that passed validation) fails with EIO.
    public func failingRead(number n: Int) -> FaultPlan { adding(IOFault(.read, .nth(n))) }
    /// The `n`th write (1-based, counting writes that passed validation) fails with EIO.
    public func failingWrite(number n: Int) -> FaultPlan { adding(IOFault(.write, .nth(n))) }
    /// Each read fails with EIO with probability `p`, drawn from the seed.
    public func failingReads(probability p: Double) -> FaultPlan { adding(IOFault(.read, .probability(p))) }
    /// Each write fails with EIO with probability `p`, drawn from the seed.
    public func failingWrites(probability p: Double) -> FaultPlan { adding(IOFault(.write, .probability(p))) }

    /// Writes fail with ENOSPC once more than `bytes` bytes would have been written in total.
    public func noSpace(afterBytes bytes: UInt64) -> FaultPlan {
        var plan = self
        plan.noSpaceAfterBytes = min(bytes, noSpaceAfterBytes ?? .max)
        return plan
    }

    /// The `n`th flush (1-based) fails with EIO and drops the pending writes it covered.
    public func failingFlush(number n: Int) -> FaultPlan { adding(FlushFault.nth(n)) }
    /// Each flush fails with probability `p` (drawn from the seed), dropping what it covered.
    public func failingFlushes(probability p: Double) -> FaultPlan { adding(FlushFault.probability(p)) }

    /// Delays each completion by 0...`maxTurns` loop turns (seeded) and, with `reorder`,
    /// shuffles the requests released on the same turn.
    public func delaying(maxTurns: Int, reorder: Bool = true) -> FaultPlan {
        precondition(maxTurns >= 0, "a negative delay")
        var plan = self
        plan.maxDelayTurns = max(plan.maxDelayTurns, maxTurns)
        plan.reorder = plan.reorder || reorder
        return plan
    }

    /// Cuts the power when request `n + 1` is submitted (see `powerLossAfterRequests`).
    public func powerLoss(afterRequests n: Int) -> FaultPlan {
        precondition(n >= 0, "a negative request count")
        var plan = self
        plan.powerLossAfterRequests = min(n, plan.powerLossAfterRequests ?? .max)
        return plan
    }

    /// Both plans at once: every fault of either, the larger delay, the earlier limits.
    public static func + (lhs: FaultPlan, rhs: FaultPlan) -> FaultPlan {
        var plan = lhs
        plan.ioFaults += rhs.ioFaults
        plan.flushFaults += rhs.flushFaults
        if let bytes = rhs.noSpaceAfterBytes { plan = plan.noSpace(afterBytes: bytes) }
        plan.maxDelayTurns = max(lhs.maxDelayTurns, rhs.maxDelayTurns)
        plan.reorder = lhs.reorder || rhs.reorder
        if let n = rhs.powerLossAfterRequests { plan = plan.powerLoss(afterRequests: n) }
        return plan
    }

    private func adding(_ fault: IOFault) -> FaultPlan {
        var plan = self
        plan.ioFaults.append(fault)
        return plan
    }

    private func adding(_ fault: FlushFault) -> FaultPlan {
        var plan = self
        plan.flushFaults.append(fault)
        return plan
    }
}

/// One rule that fails reads or writes with EIO.
public struct IOFault: Sendable, Equatable {
    public enum Trigger: Sendable, Equatable {
        /// Requests overlapping these bytes.
        case range(Range<UInt64>)
        /// The nth request of the operation (1-based, among those that passed validation).
        case nth(Int)
        /// Each request with this probability.
        case probability(Double)
    }

    /// `.read` or `.write`; a `.write` rule also covers discards (they write zeros).
    public var operation: IOOperation
    public var trigger: Trigger

    public init(_ operation: IOOperation, _ trigger: Trigger) {
        precondition(operation == .read || operation == .write, "IOFault covers reads and writes; use FlushFault")
        self.operation = operation
        self.trigger = trigger
    }
}

/// One rule that fails flushes (fsyncgate: the flush reports EIO and its writes are lost).
public enum FlushFault: Sendable, Equatable {
    /// The nth flush (1-based, among those that passed validation).
    case nth(Int)
    /// Each flush with this probability.
    case probability(Double)
}
