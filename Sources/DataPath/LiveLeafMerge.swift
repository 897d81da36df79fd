import ImageFormats
import StorageIO

/// Online leaf-coalesce inside the data path: the chain [..., P, L] is served while L's
/// sectors are merged into P, on the export's loop, interleaved with guest I/O.
///
/// P is opened a second time, writable (the chain keeps its read-only view: the merge only
/// writes sectors L covers, or appends blocks that view never looks at). The copier walks the
/// blocks L held when copying began and, per block, reads L's allocated runs and writes them
/// into P (`LiveLeafMerge+Copy`). Guest writes keep going to L; those that land in blocks
/// already copied, or never held by L, are also written into P (`LiveLeafMerge+Mirror`), and
/// `MergeInterlock` keeps the copier and the writes apart per block. Every block is copied
/// once and every later write is mirrored, so the pass ends whatever the write rate; then P's
/// content equals the chain's and mirroring continues until the export closes (a pause), when
/// P is flushed and the phase becomes `complete`: the engine renames P over L and reopens.
///
/// Failure anywhere on P's side stops the merge: mirroring ends, waiting writes go on to L
/// alone, L stays authoritative. A failed write to L also stops it (P might then hold data
/// the guest was told did not land). Everything here runs on the loop thread.
final class LiveLeafMerge {
    unowned let export: DiskImageExport
    let loop: EventLoop
    let gate: ImageCallGate
    let leaf: VHDImage
    /// P, opened writable on its own store.
    let target: VHDImage
    let interlock: MergeInterlock
    let virtualSize: UInt64
    var status: LeafMergeStatus
    let progress: ((LeafMergeStatus) -> Void)?
    private let startedAt = monotonicNanoseconds()

    /// Writes started before the merge and still in flight: quiescing waits for them.
    private var earlierWrites: Int
    /// Writes that may not start yet (quiescing, claimed block, overlapping mirrored write).
    private var waiters: [ExportRequest] = []
    private var isRetrying = false
    private var retryAgain = false

    // Copier state (`LiveLeafMerge+Copy`).
    var chunks: [MergeChunk] = []
    var nextBlock = 0
    var isPumping = false
    var pumpAgain = false

    // Mirror state (`LiveLeafMerge+Mirror`).
    var allMirrors: [MirrorWrite] = []
    var spareMirrors: [MirrorWrite] = []
    var mirrorsInFlight = 0

    /// Flags kept in `ExportRequest.cursor` (unused by this backend otherwise) for writes.
    enum WriteFlag {
        static let registered: UInt64 = 1
        static let mirrored: UInt64 = 2
        static let waited: UInt64 = 4
    }

    init(export: DiskImageExport, leaf: VHDImage, target: VHDImage, parentPath: String, writesInFlight: Int,
         progress: ((LeafMergeStatus) -> Void)?) {
        self.export = export
        self.loop = export.loop
        self.gate = export.gate
        self.leaf = leaf
        self.target = target
        self.virtualSize = leaf.virtualSize
        let blockBytes = leaf.blockBytes
        interlock = MergeInterlock(blockCount: Int((leaf.virtualSize + blockBytes - 1) / blockBytes), blockBytes: blockBytes)
        status = LeafMergeStatus(phase: .quiescing, parentPath: parentPath)
        self.progress = progress
        earlierWrites = writesInFlight
        waiters.reserveCapacity(DataPathLimits.slotsPerConnection)
    }

    /// Merging now: writes go through the interlock.
    var isTracking: Bool {
        switch status.phase {
        case .quiescing, .copying, .mirroring: true
        case .complete, .failed: false
        }
    }

    /// No copy and no mirrored write in flight.
    var isIdle: Bool { mirrorsInFlight == 0 && chunksIdle }
    var chunksIdle: Bool { chunks.allSatisfy { $0.stage == .idle } }

    /// Begins: copying starts at once, or once the writes already in flight have finished.
    func start() {
        report()
        if earlierWrites == 0 { beginCopying() }
    }

    private func beginCopying() {
        let blockBytes = interlock.blockBytes
        for b in 0..<interlock.blockCount {
            if case .absent? = leaf.blockSummary(b) { continue }
            interlock.setPending(b)
            status.blocksTotal += 1
        }
        let buffers = min(LeafMergeLimits.chunksInFlight, max(1, status.blocksTotal))
        chunks = (0..<buffers).map { _ in MergeChunk(bufferBytes: Int(blockBytes) + 2 * LeafMergeLimits.alignmentBytesMax) }
        status.phase = .copying
        report()
        pump()
        retryWaiters()
    }

    func converge() {
        guard status.phase == .copying else { return }
        status.phase = .mirroring
        status.convergedAfterNanoseconds = monotonicNanoseconds() - startedAt
        report()
    }

    func report() { progress?(status) }

    // MARK: Guest writes

    /// Whether write `r` may start now; if not, it waits and `export.startWrite` is called
    /// later. An admitted write is registered (and counted as mirrored when it will be).
    func admit(_ r: ExportRequest) -> Bool {
        guard isTracking, r.length > 0 else { return true }
        guard status.phase != .quiescing else { return wait(r) }
        let start = r.offset, end = r.offset + UInt64(r.length)
        switch interlock.admit(start, end) {
        case .wait:
            return wait(r)
        case let .start(mirror):
            interlock.register(start, end, mirror: mirror, owner: ObjectIdentifier(r))
            r.cursor |= WriteFlag.registered | (mirror ? WriteFlag.mirrored : 0)
            if mirror { status.writesMirrored += 1 }
            return true
        }
    }

    private func wait(_ r: ExportRequest) -> Bool {
        if r.cursor & WriteFlag.waited == 0 {
            r.cursor |= WriteFlag.waited
            status.writesWaited += 1
        }
        waiters.append(r)
        return false
    }

    /// A write completed (before its reply): unregister it, let what waited on it go.
    func release(_ r: ExportRequest) {
        if r.cursor & WriteFlag.registered != 0 {
            let start = r.offset, end = r.offset + UInt64(r.length)
            interlock.release(start, end, mirror: r.cursor & WriteFlag.mirrored != 0, owner: ObjectIdentifier(r))
            r.cursor &= ~(WriteFlag.registered | WriteFlag.mirrored)
            if isTracking {
                startDrainedChunks()
                retryWaiters()
            }
        } else if status.phase == .quiescing && r.length > 0 {
            earlierWrites -= 1
            if earlierWrites == 0 { beginCopying() }
        }
    }

    /// Starts the waiting writes that may go now, oldest first.
    func retryWaiters() {
        if isRetrying { retryAgain = true; return }
        isRetrying = true
        defer { isRetrying = false }
        repeat {
            retryAgain = false
            var i = 0
            while i < waiters.count {
                let r = waiters[i]
                guard !isTracking || status.phase != .quiescing else { return }
                let start = r.offset, end = r.offset + UInt64(r.length)
                if isTracking, case .wait = interlock.admit(start, end) {
                    i += 1
                    continue
                }
                waiters.remove(at: i)
                if isTracking {
                    _ = admit(r)
                } else {
                    r.cursor &= ~(WriteFlag.registered | WriteFlag.mirrored)
                }
                export.startWrite(r)
            }
        } while retryAgain
    }

    // MARK: Ending

    /// Stops the merge: no more copying or mirroring; waiting writes go on to the leaf alone.
    func fail(_ reason: String) {
        guard isTracking else { return }
        status.phase = .failed
        status.failure = reason
        export.logFailure(reason)
        // A block waiting for its writes to drain is simply not copied.
        for chunk in chunks where chunk.stage == .draining { chunk.reset(stage: .idle) }
        report()
        retryWaiters()
    }

    /// Ends the merge with the export (after the server drained): a converged merge flushes
    /// and closes P and becomes `complete`; otherwise it fails and P is closed as it is.
    func close() {
        if status.phase == .quiescing || status.phase == .copying { fail("the export closed before the merge converged") }
        if !isIdle { loop.run(until: { self.isIdle }) }
        do {
            try target.close()
        } catch {
            fail("flushing the parent failed: \(error)")
        }
        if status.phase == .mirroring {
            status.phase = .complete
            report()
        }
        for chunk in chunks { chunk.release() }
        chunks.removeAll()
    }
}
