/// VDI destroy. A leaf's image is removed together with the hidden base copies only it
/// still needed (what SM's garbage collector would remove later); a VDI that other images
/// depend on is turned into a hidden base copy instead, as SM does.
///
/// Steps (journal `destroy-<vdi>`, always finished on recovery): remove the images, leaf
/// first; drop their records; drop the journal.
extension AttachedSR {
    public func destroyVDI(_ vdi: String) throws {
        try destroyWithoutKick(vdi)
        kickGarbageCollector()
    }

    private func destroyWithoutKick(_ vdi: String) throws {
        try unlessServed(vdi) { try withVDILock(vdi) {
            try withSRLock {
                let meta = try metadata()
                guard let record = meta.vdis[vdi] else { throw SREngineError.vdiNotFound(uuid: vdi) }
                if !meta.children(of: vdi).isEmpty {
                    try hideInsteadOfDestroy(record)
                    return
                }
                var journal = Journal(kind: .destroy, vdi: vdi)
                journal.garbage = garbageAbove(vdi, in: meta)
                try begin(journal)
                try runDestroy(journal)
            }
        } }
    }

    /// Hidden ancestors that no other image needs once `vdi` is gone, nearest first.
    func garbageAbove(_ vdi: String, in meta: SRMetadata) -> [String] {
        var garbage: [String] = [], gone: Set<String> = [vdi]
        var current = meta.vdis[vdi]?.parent
        while let p = current, let parent = meta.vdis[p], parent.hidden,
              meta.children(of: p).allSatisfy({ gone.contains($0.uuid) }) {
            garbage.append(p)
            gone.insert(p)
            current = parent.parent
        }
        return garbage
    }

    func runDestroy(_ j: Journal) throws {
        try step("destroy.unlink")
        for v in [j.vdi] + (j.garbage ?? []) { try repository.removeVolume(VolumeName.image(v)) }
        try repository.syncNamespace()
        try step("destroy.metadata")
        try updateMetadata { meta in
            for v in [j.vdi] + (j.garbage ?? []) { meta.vdis[v] = nil }
        }
        try finish(j)
    }

    private func hideInsteadOfDestroy(_ record: VDIRecord) throws {
        try step("destroy.hide")
        try setHidden(VolumeName.image(record.uuid), true)
        try updateMetadata { meta in
            var r = record
            r.hidden = true
            r.managed = false
            r.readOnly = true
            r.nameLabel = "base copy"
            meta.vdis[record.uuid] = r
        }
    }
}
