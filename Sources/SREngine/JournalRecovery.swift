/// Finishing or undoing operations a killed process left half-done, run under the SR lock
/// whenever an SR is attached or scanned.
///
/// Each journal kind has one commit point (a rename, or for destroy the journal itself):
/// before it the operation is undone, after it the remaining idempotent steps are replayed.
/// Temporaries with no journal (an interrupted step of an operation already undone) are
/// removed, and an SR without metadata (a XenServer SR met for the first time) gets records
/// built from its images.
extension AttachedSR {
    func recover() throws {
        recoveryLog = []
        for (name, bytes) in try repository.journals() {
            let journal: Journal
            do { journal = try Journal.decode(bytes, name: name) } catch {
                recoveryLog.append("journal \(name) is damaged (\(error)); removed")
                try repository.removeJournal(name)
                continue
            }
            do { try replay(journal) } catch {
                recoveryLog.append("journal \(name) could not be replayed (\(error)); left in place")
            }
        }
        try sweepTemporaries()
        if !repository.hasMetadata {
            let changes = try reconcile()
            recoveryLog.append("no SR metadata: built it from \(changes.count) image(s)")
        }
    }

    private func replay(_ j: Journal) throws {
        switch j.kind {
        case .create:
            if repository.volumeUsage(VolumeName.image(j.vdi)) != nil {
                _ = try finishCreate(j)
                recoveryLog.append("finished creating VDI \(j.vdi)")
            } else {
                try repository.removeVolume(VolumeName.partial(j.vdi))
                try repository.removeJournal(j.name)
                recoveryLog.append("undid the interrupted creation of VDI \(j.vdi)")
            }
        case .snapshot:
            if snapshotCommitted(j) {
                _ = try finishSnapshot(j)
                recoveryLog.append("finished the snapshot of VDI \(j.vdi)")
            } else {
                try rollBackSnapshot(j)
                recoveryLog.append("undid the interrupted snapshot of VDI \(j.vdi)")
            }
        case .destroy:
            try runDestroy(j)
            recoveryLog.append("finished destroying VDI \(j.vdi)")
        case .compose:
            try runCompose(j)
            recoveryLog.append("finished composing VDI \(j.vdi) onto \(j.parent ?? "?")")
        case .resize:
            try repository.removeVolume(VolumeName.resized(j.vdi))
            if resizeCommitted(j) {
                _ = try finishResize(j)
                recoveryLog.append("finished resizing VDI \(j.vdi)")
            } else {
                try repository.removeJournal(j.name)
                recoveryLog.append("undid the interrupted resize of VDI \(j.vdi)")
            }
        case .coalesce, .leafCoalesce:
            // A running collector owns its journal (its copy runs outside the SR lock).
            let gc = repository.gcLock()
            guard try gc.acquire(timeout: 0) else {
                recoveryLog.append("journal \(j.name) belongs to a running garbage collector; left to it")
                return
            }
            defer { gc.release() }
            recoveryLog.append(j.kind == .coalesce ? try recoverCoalesce(j) : try recoverLeafCoalesce(j))
        }
    }

    /// Removes `*.vhd.partial|.new|.resize` left by steps whose journal is gone.
    private func sweepTemporaries() throws {
        var removed = false
        for name in try repository.volumeNames() where VolumeName.temporaryOwner(name) != nil {
            try repository.removeVolume(name)
            recoveryLog.append("removed the leftover temporary \(name)")
            removed = true
        }
        if removed { try repository.syncNamespace() }
    }
}
