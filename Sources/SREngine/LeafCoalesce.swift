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
/// Only for a VDI nobody has open (its VDI lock is free). The live variant, inside the
/// data-path daemon that holds the leaf open, can reuse `AllocatedCopy` and this commit.
extension AttachedSR {
    func runLeafCoalesce(_ c: CoalesceCandidate, control: GCRunControl) throws -> UInt64 {
        if options.dataPath?.isServed(sr: uuid, vdi: c.vdi) == true {
            throw GCSkip(reason: "served by a data-path daemon: it merges online")
        }
        let locks = try lockForMerge([c.vdi, c.parent])
        defer { locks.forEach { $0.release() } }
        var journal = Journal(kind: .leafCoalesce, vdi: c.vdi)
        journal.parent = c.parent
        try withSRLock {
            guard CoalescePlan.make(try metadata()).leafCoalesce.contains(c) else { throw GCSkip(reason: "the tree changed") }
            try ensureSpace(try mergeSpace(from: c.vdi, into: c.parent).bytes, for: "leaf-coalesce of \(c.vdi)")
            try begin(journal)
        }
        let copied = try copyForMerge(journal, control: control, operation: "leaf-coalesce")
        try withSRLock {
            try step("leaf-coalesce.commit")
            try repository.renameVolume(VolumeName.image(c.parent), to: VolumeName.image(c.vdi))
            try repository.syncNamespace()
            try finishLeafCoalesce(journal)
        }
        return copied
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
        if leafCoalesceCommitted(j) {
            try finishLeafCoalesce(j)
            return "finished the leaf-coalesce of \(j.vdi)"
        }
        try rollBackMerge(j)
        return "rolled back the interrupted leaf-coalesce of \(j.vdi)"
    }
}
