import ImageFormats
import StorageIO

/// Coalesce: a hidden VDI whose hidden parent has no other child is merged into that
/// parent; its children are relinked to the parent and it is deleted.
///
/// Steps (journal `coalesce-<vdi>`):
///   1. `coalesce.copy` — the sectors the VDI holds are written into the parent. Nothing
///      reads the parent except through this VDI, which covers those sectors, so no visible
///      content changes however far the copy got: before the commit, recovery (and abort)
///      only repairs the parent's footer and drops the journal.
///   2. `coalesce.commit` — the journal is rewritten with phase `relinking`: from here on
///      recovery finishes the merge (no data is copied after the commit).
///   3. `coalesce.relink` — each child's header names the parent (`vhd-util modify -p`);
///      a child relinked or not reads the same data, since the parent now holds the VDI's.
///   4. `coalesce.unlink` — the merged image is removed; 5. `coalesce.metadata`; done.
extension AttachedSR {
    static let relinkingPhase = "relinking"

    /// Merges `c.vdi` into `c.parent`; returns the bytes copied.
    ///
    /// The merged VDI and its parent are locked for the whole merge; the children only for
    /// the commit, so snapshotting or opening a child is not blocked by a long copy. Their
    /// list is read again at the commit (a snapshot of a child replaces it by a new base).
    func runCoalesce(_ c: CoalesceCandidate, control: GCRunControl) throws -> UInt64 {
        let children = try withSRLock { try metadata().children(of: c.vdi).map(\.uuid) }
        try lockForMerge(children).forEach { $0.release() }  // one in use now would waste the copy
        let locks = try lockForMerge([c.vdi, c.parent])
        defer { locks.forEach { $0.release() } }
        var journal = Journal(kind: .coalesce, vdi: c.vdi)
        journal.parent = c.parent
        journal.children = children
        try withSRLock {
            guard CoalescePlan.make(try metadata()).coalesce.contains(c) else { throw GCSkip(reason: "the tree changed") }
            try ensureSpace(try mergeSpace(from: c.vdi, into: c.parent).bytes, for: "coalesce of \(c.vdi)")
            try begin(journal)
        }
        let copied = try copyForMerge(journal, control: control, operation: "coalesce")
        let childLocks: (vdis: [String], locks: [LockFile])
        do {
            let now = try withSRLock { try metadata().children(of: c.vdi).map(\.uuid) }
            childLocks = (now, try lockForMerge(now, wait: SRLimits.gcCommitLockWaitSeconds))
        } catch {
            try? withSRLock { try rollBackMerge(journal) }
            throw error
        }
        defer { childLocks.locks.forEach { $0.release() } }
        let served = try withSRLock { try metadata().leaves(below: c.vdi) }
        try withDataPathsPaused(served) {
            try withSRLock {
                guard try metadata().children(of: c.vdi).map(\.uuid) == childLocks.vdis else {
                    try rollBackMerge(journal)
                    throw GCSkip(reason: "its children changed during the copy")
                }
                try step("coalesce.commit")
                journal.children = childLocks.vdis
                journal.phase = Self.relinkingPhase
                try repository.writeJournal(journal.name, try journal.encoded())
                try relinkChildren(journal)
            }
        }
        // Removing the merged image can take a while (freeing its blocks, with discard): the
        // daemons already serve the shorter chain, so it happens after the unpause.
        try withSRLock { try completeCoalesce(journal) }
        return copied
    }

    /// After the commit: relink the children, remove the merged image, store the records.
    func finishCoalesce(_ j: Journal) throws {
        try relinkChildren(j)
        try completeCoalesce(j)
    }

    private func relinkChildren(_ j: Journal) throws {
        try step("coalesce.relink")
        for child in j.children ?? [] where repository.volumeUsage(VolumeName.image(child)) != nil {
            try relinkImage(child, toParent: j.parent!)
        }
    }

    private func completeCoalesce(_ j: Journal) throws {
        let parent = j.parent!
        try step("coalesce.unlink")
        try repository.removeVolume(VolumeName.image(j.vdi))
        try repository.syncNamespace()
        try step("coalesce.metadata")
        try updateMetadata { meta in
            for child in j.children ?? [] { meta.vdis[child]?.parent = parent }
            meta.vdis[j.vdi] = nil
            meta.vdis[parent]?.physicalUtilisation = utilisation(parent)
        }
        try finish(j)
    }

    /// What a killed or aborted collector left: finish after the commit, else roll back.
    func recoverCoalesce(_ j: Journal) throws -> String {
        if j.phase == Self.relinkingPhase {
            try finishCoalesce(j)
            return "finished coalescing \(j.vdi) into \(j.parent ?? "?")"
        }
        try rollBackMerge(j)
        return "rolled back the interrupted coalesce of \(j.vdi) (its parent keeps a harmless partial copy)"
    }

    // MARK: Shared by coalesce and leaf-coalesce

    /// Takes the VDI locks of images a merge touches, waiting at most `wait`: an image in use
    /// (open for I/O, being snapshotted) is skipped this run. Online merging of attached
    /// leaves belongs to the data-path daemon (pause, merge, refresh), not to this path.
    func lockForMerge(_ vdis: [String], wait: Double = 0) throws -> [LockFile] {
        var held: [LockFile] = []
        for vdi in Set(vdis).sorted() {
            let lock = repository.vdiLock(vdi)
            guard try lock.acquire(timeout: wait) else {
                held.forEach { $0.release() }
                throw GCSkip(reason: "VDI \(vdi) is in use")
            }
            held.append(lock)
        }
        return held
    }

    /// Bytes the parent may grow by: the blocks it lacks that the VDI has, with overhead
    /// (SM's `_calcExtraSpaceForCoalescing`, from the BATs alone).
    func mergeSpace(from vdi: String, into parent: String) throws -> (copy: UInt64, bytes: UInt64) {
        let s = try repository.openVolume(VolumeName.image(vdi), readOnly: true, on: loop)
        defer { s.close() }
        let p = try repository.openVolume(VolumeName.image(parent), readOnly: true, on: loop)
        defer { p.close() }
        let source = try VHDImage.open(s, readOnly: true), target = try VHDImage.open(p, readOnly: true)
        let blocks = Int((source.virtualSize + source.blockBytes - 1) / source.blockBytes)
        var copy: UInt64 = 0, grow: UInt64 = 0
        for b in 0..<blocks {
            if case .absent? = source.blockSummary(b) { continue }
            copy += source.blockBytes
            if case .absent? = target.blockSummary(b) { grow += target.blockBytes + SRLimits.coalesceBlockOverheadBytes }
        }
        return (copy, grow)
    }

    /// Step `<op>.copy`: the merge's data into the parent; on any failure (abort included)
    /// the merge is rolled back before the error goes on.
    func copyForMerge(_ j: Journal, control: GCRunControl, operation: String) throws -> UInt64 {
        do {
            try step("\(operation).copy")
            let s = try repository.openVolume(VolumeName.image(j.vdi), readOnly: true, on: loop)
            defer { s.close() }
            let p = try repository.openVolume(VolumeName.image(j.parent!), readOnly: false, on: loop)
            let source = try VHDImage.open(s, readOnly: true)
            let target: VHDImage
            do { target = try VHDImage.open(p) } catch { p.close(); throw error }
            let runs = try AllocatedCopy.runs(of: source)
            let bytes = AllocatedCopy.bytes(runs)
            var polled: UInt64 = 0
            do {
                try AllocatedCopy.copy(runs, from: source, into: target) { done in
                    control.progress?(GCProgress(operation: operation, vdi: j.vdi, done: done, total: bytes))
                    if done - polled >= SRLimits.gcAbortPollBytes || done == bytes {
                        polled = done
                        if gcAbortRequested { throw GCError.aborted }
                    }
                }
            } catch {
                p.close()
                throw error
            }
            try target.close()
            return bytes
        } catch {
            try? withSRLock { try rollBackMerge(j) }
            throw error
        }
    }

    /// Before the commit: the parent's partial copy is harmless; repair its footer (a copy
    /// cut short may leave a grown file without one) and drop the journal.
    func rollBackMerge(_ j: Journal) throws {
        if let parent = j.parent, repository.volumeUsage(VolumeName.image(parent)) != nil {
            let store = try repository.openVolume(VolumeName.image(parent), readOnly: false, on: loop)
            do { try VHDImage.repair(store) } catch {
                store.close()
                throw error
            }
        }
        try repository.removeJournal(j.name)
    }
}
