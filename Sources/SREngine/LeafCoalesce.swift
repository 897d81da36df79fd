import ImageFormats

/// Offline leaf-coalesce: a visible leaf whose hidden parent has no other child is merged
/// into that parent, and the parent's file becomes the leaf's (`<leaf>.vhd`), so the chain
/// is one image shorter while the VDI keeps its uuid, record and content.
///
/// Steps (journal `leaf-coalesce-<leaf>`):
///   1. `leaf-coalesce.copy` — the leaf's sectors into the parent (invisible, as for
///      coalesce; before the commit recovery only repairs the parent and drops the journal);
///   2. `leaf-coalesce.commit` — rename `<parent>.vhd` over `<leaf>.vhd`: atomic, and the
///      old leaf's space is freed with its inode;
///   3. `leaf-coalesce.unhide` — clear the hidden flag the parent's file carried;
///   4. `leaf-coalesce.metadata` — drop the parent's record, the leaf's parent is its
///      grandparent; done.
/// Only for a VDI nobody has open (its VDI lock is free); a leaf a data-path daemon serves
/// is merged by that daemon instead (`runLiveLeafCoalesce`), with the same journal and commit.
extension AttachedSR {
    func runLeafCoalesce(_ c: CoalesceCandidate, control: GCRunControl) throws -> UInt64 {
        if let dataPath = options.dataPath, dataPath.isServed(sr: uuid, vdi: c.vdi) {
            return try runLiveLeafCoalesce(c, dataPath: dataPath, control: control)
        }
        let (journal, locks) = try beginLeafCoalesce(c)
        defer { locks.forEach { $0.release() } }
        let copied = try copyForMerge(journal, control: control, operation: "leaf-coalesce")
        try withSRLock {
            try step("leaf-coalesce.commit")
            try repository.renameVolume(VolumeName.image(c.parent), to: VolumeName.image(c.vdi))
            try repository.syncNamespace()
            try finishLeafCoalesce(journal)
        }
        return copied
    }

    /// Locks leaf and parent, checks the merge is still due and fits, writes the journal.
    func beginLeafCoalesce(_ c: CoalesceCandidate) throws -> (Journal, [LockFile]) {
        let locks = try lockForMerge([c.vdi, c.parent])
        var journal = Journal(kind: .leafCoalesce, vdi: c.vdi)
        journal.parent = c.parent
        do {
            try withSRLock {
                guard CoalescePlan.make(try metadata()).leafCoalesce.contains(c) else { throw GCSkip(reason: "the tree changed") }
                try ensureSpace(try mergeSpace(from: c.vdi, into: c.parent).bytes, for: "leaf-coalesce of \(c.vdi)")
                try begin(journal)
            }
        } catch {
            locks.forEach { $0.release() }
            throw error
        }
        return (journal, locks)
    }

    /// True once the parent's file has taken the leaf's name.
    func leafCoalesceCommitted(_ j: Journal) -> Bool {
        repository.volumeUsage(VolumeName.image(j.parent!)) == nil && repository.volumeUsage(VolumeName.image(j.vdi)) != nil
    }

    func finishLeafCoalesce(_ j: Journal) throws {
        try step("leaf-coalesce.unhide")
        try setHidden(VolumeName.image(j.vdi), false)
        try step("leaf-coalesce.metadata")
        let grandparent = try imageInfo(VolumeName.image(j.vdi)).parent
        try updateMetadata { meta in
            meta.vdis[j.parent!] = nil
            meta.vdis[j.vdi]?.parent = grandparent
            meta.vdis[j.vdi]?.physicalUtilisation = utilisation(j.vdi)
        }
        try finish(j)
    }

    func recoverLeafCoalesce(_ j: Journal) throws -> String {
        // A daemon may still be merging into the parent for a collector that died: stop it
        // before the parent is repaired under it.
        if let dataPath = options.dataPath, dataPath.isServed(sr: uuid, vdi: j.vdi) {
            try? dataPath.abortLeafMerge(sr: uuid, vdi: j.vdi)
        }
        if leafCoalesceCommitted(j) {
            try finishLeafCoalesce(j)
            return "finished the leaf-coalesce of \(j.vdi)"
        }
        try rollBackMerge(j)
        return "rolled back the interrupted leaf-coalesce of \(j.vdi)"
    }
}
