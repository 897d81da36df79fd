import Foundation
import ImageFormats

/// Online leaf-coalesce: the leaf is served by a data-path daemon, so the daemon merges it.
///
/// XenServer copies from outside and retries while the guest writes faster than the copy,
/// which may never converge. Here the daemon copies the leaf's blocks into the parent on
/// its own loop and mirrors every guest write to a copied block into the parent too, so one
/// pass always converges. Then a pause (a moment: drain, flush, close) lets the engine swap
/// the parent in exactly as the offline commit does, and the unpause serves the one image.
///
/// Journal, commit and recovery are the offline ones (`leaf-coalesce-<leaf>`): before the
/// commit the parent only holds extra copies of sectors the leaf covers, so rolling back is
/// repairing the parent; recovery first stops a merge a daemon may still be running.
extension AttachedSR {
    func runLiveLeafCoalesce(_ c: CoalesceCandidate, dataPath: any DataPathControl, control: GCRunControl) throws -> UInt64 {
        let (journal, locks) = try beginLeafCoalesce(c)
        defer { locks.forEach { $0.release() } }
        do {
            try step("leaf-coalesce.live")
            try dataPath.startLeafMerge(sr: uuid, vdi: c.vdi, parentPath: repository.dataPathLocation(of: VolumeName.image(c.parent)))
            let converged = try waitForConvergence(c, dataPath: dataPath, control: control)
            try withDataPathPaused(c.vdi) {
                let final = try dataPath.leafMergeState(sr: uuid, vdi: c.vdi)
                guard final?.phase == .complete else {
                    throw GCSkip(reason: "the live leaf-merge did not complete at the pause: \(final?.failure ?? "no merge")")
                }
                try withSRLock {
                    try step("leaf-coalesce.commit")
                    try repository.renameVolume(VolumeName.image(c.parent), to: VolumeName.image(c.vdi))
                    try repository.syncNamespace()
                    try finishLeafCoalesce(journal)
                }
            }
            return converged.bytesCopied
        } catch {
            try? dataPath.abortLeafMerge(sr: uuid, vdi: c.vdi)
            if !leafCoalesceCommitted(journal) { try? withSRLock { try rollBackMerge(journal) } }
            throw error
        }
    }

    /// Follows the daemon's merge until it converges (every write mirrored from then on).
    private func waitForConvergence(_ c: CoalesceCandidate, dataPath: any DataPathControl,
                                    control: GCRunControl) throws -> LiveMergeState {
        let deadline = Date().addingTimeInterval(SRLimits.liveMergeSecondsMax)
        while Date() < deadline {
            guard let state = try dataPath.leafMergeState(sr: uuid, vdi: c.vdi) else {
                throw GCSkip(reason: "the data-path daemon reports no leaf-merge")
            }
            control.progress?(GCProgress(operation: "leaf-coalesce (live)", vdi: c.vdi,
                                         done: UInt64(state.blocksCopied), total: UInt64(max(state.blocksTotal, 1))))
            switch state.phase {
            case .mirroring, .complete: return state
            case .failed: throw GCSkip(reason: "the live leaf-merge failed: \(state.failure ?? "no reason given")")
            case .quiescing, .copying: break
            }
            if gcAbortRequested { throw GCError.aborted }
            usleep(SRLimits.liveMergePollMicroseconds)
        }
        throw GCSkip(reason: "the live leaf-merge did not converge within \(Int(SRLimits.liveMergeSecondsMax)) s")
    }
}
