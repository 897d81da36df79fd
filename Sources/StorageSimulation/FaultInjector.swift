import Glibc
import StorageIO

/// Applies a `FaultPlan` to the requests of one disk: the counters the plan's rules refer to
/// (nth read, nth write, bytes written so far) live here, apart from the plan itself, so a
/// plan stays a plain value a test can build, compare and reuse.
struct FaultInjector {
    var plan: FaultPlan
    private(set) var reads = 0
    /// Writes and discards: a `.write` rule covers both.
    private(set) var writes = 0
    private(set) var flushes = 0
    /// Bytes accepted by writes, for the ENOSPC limit.
    private(set) var bytesWritten: UInt64 = 0

    init(plan: FaultPlan) {
        self.plan = plan
    }

    /// The failure the plan gives a validated request, with the reason for the trace; nil when
    /// it proceeds. Every probability rule draws once per matching request, hit or not, so
    /// one rule's outcome never shifts another's draws.
    mutating func decide(_ request: IORequest, store: String,
                         random: inout SplitMix64) -> (failure: BlockIOError, reason: String)? {
        let operation = request.operation
        let offset = request.offset
        let length = UInt64(request.length)
        switch operation {
        case .flush:
            flushes += 1
            var reason: String?
            for fault in plan.flushFaults {
                switch fault {
                case let .nth(n): if n == flushes { reason = reason ?? "flush #\(n)" }
                case let .probability(p): if random.chance(p) { reason = reason ?? "probability \(p)" }
                }
            }
            guard let reason else { return nil }
            return (.io(store: store, operation: .flush, offset: 0, length: 0, errno: EIO), reason)
        case .read, .write, .discard:
            let kind: IOOperation = operation == .read ? .read : .write
            let count: Int
            if kind == .read { reads += 1; count = reads } else { writes += 1; count = writes }
            var reason: String?
            for fault in plan.ioFaults where fault.operation == kind {
                switch fault.trigger {
                case let .range(range):
                    if length > 0 && offset < range.upperBound && range.lowerBound < offset + length {
                        reason = reason ?? "range \(range.lowerBound)..<\(range.upperBound)"
                    }
                case let .nth(n):
                    if n == count { reason = reason ?? "\(kind) #\(n)" }
                case let .probability(p):
                    if random.chance(p) { reason = reason ?? "probability \(p)" }
                }
            }
            if let reason {
                return (.io(store: store, operation: operation, offset: offset, length: length, errno: EIO), reason)
            }
            if operation == .write {
                if let limit = plan.noSpaceAfterBytes, bytesWritten + length > limit {
                    return (.noSpace(store: store, operation: operation, offset: offset, length: length),
                            "no space after \(limit) bytes (\(bytesWritten) written)")
                }
                bytesWritten += length
            }
            return nil
        }
    }
}
