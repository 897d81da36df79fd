/// Snapshot and clone with XenServer's semantics, O(1) in the virtual size.
///
/// A writable VDI O keeps its uuid and stays the writable leaf. Its current image becomes a
/// hidden read-only base copy B (a hard link, no data copied) and O gets a new empty child
/// of B; a double snapshot adds the snapshot (or clone) N as a second child of B:
///
///     before: O            after (double):   B (hidden base copy)
///                                            ├── O (writable, same uuid)
///                                            └── N (the snapshot or clone)
///
/// Steps (journal `snapshot-<O>`): link O.vhd → B.vhd; build O.vhd.new over B; rename it
/// over O.vhd (the commit: O and B are now different files); build N; hide B; store the
/// records; drop the journal. Recovery undoes everything before the commit and finishes
/// everything after it. A read-only VDI cannot change, so its snapshot is simply a new
/// child of it (no base copy).
extension AttachedSR {
    /// Snapshots (`clone: false`) or clones a VDI; returns the VDI the caller sees as the
    /// result (the new leaf, or the base for single and internal snapshots).
    public func snapshot(_ vdi: String, type: SnapshotType = .double, clone: Bool = false,
                         nameLabel: String? = nil) throws -> VDIRecord {
        try nameLabel.map(Self.validateName)
        return try withDataPathPaused(vdi) { try withVDILock(vdi) {
            try withSRLock {
                let meta = try metadata()
                guard let source = meta.vdis[vdi] else { throw SREngineError.vdiNotFound(uuid: vdi) }
                guard !source.hidden else {
                    throw SREngineError.vdiUnavailable(uuid: vdi, detail: "a hidden base copy cannot be snapshotted")
                }
                let depth = meta.chainDepth(of: vdi)
                guard depth < SRLimits.chainDepthMax else { throw SREngineError.chainTooLong(uuid: vdi, depth: depth) }
                let time = Self.timestamp()
                var leaf = source
                leaf.uuid = UUIDText.random()
                leaf.nameLabel = nameLabel ?? source.nameLabel
                leaf.isASnapshot = !clone
                leaf.snapshotOf = clone ? "" : vdi
                leaf.snapshotTime = clone ? "" : time
                leaf.managed = true
                leaf.hidden = false
                if source.readOnly { return try childOfReadOnly(source, leaf: leaf) }

                let images = type == .double ? 2 : 1
                try ensureSpace(UInt64(images) * SpaceAccounting.emptyImageBytes(virtualSize: source.virtualSize),
                                for: clone ? "VDI clone" : "VDI snapshot")
                var journal = Journal(kind: .snapshot, vdi: vdi)
                journal.base = UUIDText.random()
                journal.leaf = type == .double ? leaf.uuid : nil
                journal.snapshotType = type
                journal.record = leaf
                journal.original = source
                journal.time = time
                try begin(journal)
                try runSnapshotBeforeCommit(journal)
                return try finishSnapshot(journal)
            }
        } }
    }

    /// Clone/snapshot of a read-only VDI: a new child of it, through the create journal.
    private func childOfReadOnly(_ source: VDIRecord, leaf: VDIRecord) throws -> VDIRecord {
        try ensureSpace(SpaceAccounting.emptyImageBytes(virtualSize: source.virtualSize), for: "VDI snapshot")
        var record = leaf
        record.readOnly = false
        var journal = Journal(kind: .create, vdi: leaf.uuid)
        journal.record = record
        journal.parent = source.uuid
        try begin(journal)
        return try runCreate(journal)
    }

    /// Link, new leaf for the original, commit by rename.
    private func runSnapshotBeforeCommit(_ j: Journal) throws {
        let o = VolumeName.image(j.vdi), b = VolumeName.image(j.base!)
        try step("snapshot.link")
        try repository.linkVolume(o, to: b)
        try repository.syncNamespace()
        try step("snapshot.leaf")
        try buildImage(j.vdi, size: try footer(of: b).currentSize, parent: j.base!, volume: VolumeName.newLeaf(j.vdi))
        try step("snapshot.commit")
        try repository.renameVolume(VolumeName.newLeaf(j.vdi), to: o)
        try repository.syncNamespace()
    }

    /// True once the original's name points at its new leaf (no longer the base's file).
    func snapshotCommitted(_ j: Journal) -> Bool {
        guard let o = repository.volumeUsage(VolumeName.image(j.vdi)),
              let b = repository.volumeUsage(VolumeName.image(j.base!)) else { return false }
        return o.identity != b.identity
    }

    /// Undoes a snapshot that did not reach its commit: the original image is untouched.
    func rollBackSnapshot(_ j: Journal) throws {
        try repository.removeVolume(VolumeName.newLeaf(j.vdi))
        if let o = repository.volumeUsage(VolumeName.image(j.vdi)),
           let b = repository.volumeUsage(VolumeName.image(j.base!)), o.identity == b.identity {
            try repository.removeVolume(VolumeName.image(j.base!))
        }
        try repository.syncNamespace()
        try repository.removeJournal(j.name)
    }

    /// After the commit: second child, hide the base, store the records, drop the journal.
    func finishSnapshot(_ j: Journal) throws -> VDIRecord {
        let base = j.base!, type = j.snapshotType ?? .double
        if let leaf = j.leaf, repository.volumeUsage(VolumeName.image(leaf)) == nil {
            try step("snapshot.clone")
            try buildImage(leaf, size: try footer(of: VolumeName.image(base)).currentSize, parent: base)
            try repository.renameVolume(VolumeName.partial(leaf), to: VolumeName.image(leaf))
            try repository.syncNamespace()
        }
        if type != .single {
            try step("snapshot.hide")
            try setHidden(VolumeName.image(base), true)
        }
        try step("snapshot.metadata")
        var result: VDIRecord?
        try updateMetadata { meta in
            guard var original = meta.vdis[j.vdi], let before = j.original else {
                throw SREngineError.vdiNotFound(uuid: j.vdi)
            }
            var baseRecord = before
            baseRecord.uuid = base
            baseRecord.readOnly = true
            baseRecord.physicalUtilisation = utilisation(base)
            let template = j.record!
            if type == .single {
                baseRecord.nameLabel = template.nameLabel
                baseRecord.isASnapshot = template.isASnapshot
                baseRecord.snapshotOf = template.snapshotOf
                baseRecord.snapshotTime = template.snapshotTime
            } else {
                baseRecord.nameLabel = "base copy"
                baseRecord.nameDescription = ""
                baseRecord.isASnapshot = false
                baseRecord.snapshotOf = ""
                baseRecord.snapshotTime = ""
                baseRecord.managed = false
                baseRecord.hidden = true
            }
            meta.vdis[base] = baseRecord
            original.parent = base
            original.physicalUtilisation = utilisation(j.vdi)
            meta.vdis[j.vdi] = original
            result = baseRecord
            if let leaf = j.leaf {
                var leafRecord = template
                leafRecord.uuid = leaf
                leafRecord.parent = base
                leafRecord.virtualSize = original.virtualSize
                leafRecord.physicalUtilisation = utilisation(leaf)
                meta.vdis[leaf] = leafRecord
                result = leafRecord
            }
        }
        try finish(j)
        kickBlankRefill()
        return result!
    }
}
