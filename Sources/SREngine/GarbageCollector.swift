import ImageFormats
import StorageIO

/// Where a collector run is, for a progress display.
public struct GCProgress: Sendable {
    /// `coalesce` or `leaf-coalesce`.
    public var operation: String
    public var vdi: String
    public var done: UInt64
    public var total: UInt64
}

/// What one collector run did and what it left.
public struct GCReport: Sendable {
    /// Garbage VDIs removed.
    public var removed: [String] = []
    /// Merges made, as "vdi into parent".
    public var coalesced: [String] = []
    public var leafCoalesced: [String] = []
    /// Work the rules allow but this run could not do, with the reason (in use, no space, ...).
    public var skipped: [String: String] = [:]
    /// The first space shortage met: `sr-gc` reports it as SRNoSpace.
    public var noSpace: SREngineError?
    public var bytesCopied: UInt64 = 0
    public var copySeconds: Double = 0
    /// Stopped by `requestGCAbort`.
    public var aborted = false
    /// SR other-config gc=false.
    public var disabled = false
    /// Another collector holds the SR's GC lock; this run did nothing.
    public var alreadyRunning = false
    /// What was left to do when the run ended (empty after a complete run).
    public var remaining = CoalescePlan()
    /// Journals of an earlier, killed collector that this run finished or rolled back.
    public var recovered: [String] = []

    /// Copy throughput of the run's merges, MiB/s.
    public var mebibytesPerSecond: Double { copySeconds > 0 ? Double(bytesCopied) / 1_048_576 / copySeconds : 0 }
}

/// The collector stopped because `requestGCAbort` asked it to.
public enum GCError: Error, Equatable, Sendable, CustomStringConvertible {
    case aborted
    public var description: String { "the garbage collector was aborted" }
}

/// A merge refused for this run only (in use, the tree changed under it).
struct GCSkip: Error { var reason: String }

/// Callbacks of one run.
struct GCRunControl {
    var progress: ((GCProgress) -> Void)?
}

/// The garbage collector of one SR: removes garbage, then merges, one merge per pass, until
/// nothing is left to do (SM's `_gcLoop`, without its pauses).
///
/// One collector per SR at a time: the run holds `<lock-dir>/<sr>/gc` (tried, not waited
/// for). Every pass that does something removes an image from the SR, and a merge refused
/// in this run is not tried again in it, so a run always ends. Each merge and each removal
/// is its own journal; a killed run leaves at most one, which the next run (or attach, when
/// no collector is running) finishes or rolls back.
extension AttachedSR {
    /// Runs the collector to completion (or abort); `progress` is called during copies.
    public func collectGarbage(progress: ((GCProgress) -> Void)? = nil) throws -> GCReport {
        var report = GCReport()
        let lock = repository.gcLock()
        guard try lock.acquire(timeout: 0) else {
            report.alreadyRunning = true
            return report
        }
        defer { lock.release() }
        try FileSystem.remove(repository.gcAbortFlagPath)  // left by an abort that found nobody running
        report.recovered = try withSRLock { try recoverCollectorJournals() }
        let control = GCRunControl(progress: progress)
        var excluded: Set<String> = []
        var plan = CoalescePlan()
        for _ in 0..<SRLimits.gcPassCountMax {
            if gcAbortRequested { report.aborted = true; break }
            let meta = try withSRLock { try metadata() }
            if GCConfigKey.isOff(meta.sr.otherConfig, GCConfigKey.gc) { report.disabled = true; break }
            plan = CoalescePlan.make(meta, excluding: excluded)
            plan.garbage.removeAll { excluded.contains($0) }
            if !plan.garbage.isEmpty {
                let removed = try removeGarbage(plan.garbage, report: &report)
                excluded.formUnion(Set(plan.garbage).subtracting(removed))
                continue
            }
            let leaf = plan.coalesce.isEmpty
            guard let candidate = plan.coalesce.first ?? plan.leafCoalesce.first else { break }
            let started = LockFile.now()
            do {
                let bytes = leaf ? try runLeafCoalesce(candidate, control: control)
                    : try runCoalesce(candidate, control: control)
                report.bytesCopied += bytes
                report.copySeconds += LockFile.now() - started
                if leaf { report.leafCoalesced.append(candidate.description) } else { report.coalesced.append(candidate.description) }
            } catch let skip as GCSkip {
                report.skipped[candidate.vdi] = skip.reason
                excluded.insert(candidate.vdi)
            } catch GCError.aborted {
                report.aborted = true
                break
            } catch where Self.isOperatingError(error) {
                // No space, a damaged image, an I/O error: this merge waits for a later run
                // (a journal it left is finished or rolled back then); the others go on.
                if case .noSpace? = error as? SREngineError { report.noSpace = report.noSpace ?? (error as? SREngineError) }
                report.skipped[candidate.vdi] = "\(error)"
                excluded.insert(candidate.vdi)
            }
        }
        if report.aborted { try FileSystem.remove(repository.gcAbortFlagPath) }
        report.remaining = try withSRLock { CoalescePlan.make(try metadata()) }
        for (vdi, reason) in report.remaining.blocked where report.skipped[vdi] == nil { report.skipped[vdi] = reason }
        return report
    }

    /// Failures of one merge that leave the others possible; anything else (a step hook
    /// standing for a crash, a programmer's error) ends the run.
    static func isOperatingError(_ error: any Error) -> Bool {
        error is SREngineError || error is VHDError || error is BlockIOError || error is DiskImageError
    }

    /// What the collector would do now (sr-gc's query).
    public func garbageCollectionPlan() throws -> CoalescePlan { try withSRLock { CoalescePlan.make(try metadata()) } }

    /// Removes garbage VDIs nobody has open, in one destroy journal; returns those removed.
    func removeGarbage(_ garbage: [String], report: inout GCReport) throws -> [String] {
        var locks: [LockFile] = []
        defer { locks.forEach { $0.release() } }
        var free: [String] = []
        for vdi in garbage.sorted() {
            let lock = repository.vdiLock(vdi)
            if try lock.acquire(timeout: 0) { locks.append(lock); free.append(vdi) } else { report.skipped[vdi] = "VDI \(vdi) is in use" }
        }
        return try withSRLock {
            let still = Set(CoalescePlan.make(try metadata()).garbage)
            let doomed = free.filter(still.contains)
            guard let first = doomed.first else { return [] }
            var journal = Journal(kind: .destroy, vdi: first)
            journal.garbage = Array(doomed.dropFirst())
            try begin(journal)
            try runDestroy(journal)
            report.removed += doomed
            return doomed
        }
    }

    /// Finishes or rolls back the merges a killed collector left (the caller holds the GC
    /// lock and the SR lock).
    func recoverCollectorJournals() throws -> [String] {
        var log: [String] = []
        for (name, bytes) in try repository.journals() {
            guard let j = try? Journal.decode(bytes, name: name) else { continue }
            switch j.kind {
            case .coalesce: log.append(try recoverCoalesce(j))
            case .leafCoalesce: log.append(try recoverLeafCoalesce(j))
            default: continue
            }
        }
        return log
    }
}
