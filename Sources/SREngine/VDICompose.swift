/// VDI compose (SMAPIv1 `vdi_compose`, used by storage migration): VDI `vdi`'s leaf is put
/// on top of VDI `parent`, which becomes its hidden, unmanaged base copy, as SM's
/// `vhd-util modify -p` followed by hiding the parent. `vdi`'s former parent, if no other
/// image needs it, is garbage the collector removes.
///
/// Steps (journal `compose-<vdi>`, always finished on recovery, each idempotent): relink
/// `vdi`'s image to the parent; hide the parent; store the records; drop the journal.
extension AttachedSR {
    public func composeVDI(_ vdi: String, onto parent: String) throws -> VDIRecord {
        let result = try withDataPathPaused(vdi) {
            try withVDILock(vdi) {
                try withSRLock {
                    let meta = try metadata()
                    guard let leaf = meta.vdis[vdi] else { throw SREngineError.vdiNotFound(uuid: vdi) }
                    guard let base = meta.vdis[parent] else { throw SREngineError.vdiNotFound(uuid: parent) }
                    guard !meta.chain(from: parent).contains(vdi) else {
                        throw SREngineError.invalidArgument("VDI \(parent) is \(vdi) or lies below it: composing would make a loop")
                    }
                    guard leaf.parent != nil, try imageInfo(VolumeName.image(vdi)).diskType == .differencing else {
                        throw SREngineError.invalidArgument("VDI \(vdi) has no parent: only a differencing leaf can be put on top of another VDI")
                    }
                    guard base.virtualSize <= leaf.virtualSize else {
                        throw SREngineError.vdiSize(requested: base.virtualSize,
                                                    detail: "VDI \(parent) is larger than \(vdi) (\(leaf.virtualSize) bytes)")
                    }
                    let depth = meta.chainDepth(of: parent) + 1
                    guard depth <= SRLimits.chainDepthMax else { throw SREngineError.chainTooLong(uuid: vdi, depth: depth) }
                    var journal = Journal(kind: .compose, vdi: vdi)
                    journal.parent = parent
                    try begin(journal)
                    try runCompose(journal)
                    return try metadata().vdis[vdi]!
                }
            }
        }
        kickGarbageCollector()
        return result
    }

    /// The steps after the journal; replayed whole on recovery.
    func runCompose(_ j: Journal) throws {
        let parent = j.parent!
        try step("compose.relink")
        try relinkImage(j.vdi, toParent: parent)
        try step("compose.hide")
        try setHidden(VolumeName.image(parent), true)
        try step("compose.metadata")
        try updateMetadata { meta in
            meta.vdis[j.vdi]?.parent = parent
            meta.vdis[parent]?.hidden = true
            meta.vdis[parent]?.managed = false
            meta.vdis[parent]?.readOnly = true
        }
        try finish(j)
    }
}
