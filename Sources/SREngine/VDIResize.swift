/// VDI resize: grow only (shrinking is refused with `vdiSize`, as SM does), on a leaf.
///
/// Steps (journal `resize-<vdi>`): write the grown copy as `<vdi>.vhd.resize`; rename it
/// over the image (the commit); store the new size; drop the journal. Recovery finishes a
/// committed resize and otherwise removes the copy.
extension AttachedSR {
    public func resizeVDI(_ vdi: String, to requested: UInt64) throws -> VDIRecord {
        let size = try Self.validatedSize(requested)
        return try withDataPathPaused(vdi) { try withVDILock(vdi) {
            try withSRLock {
                let meta = try metadata()
                guard let record = meta.vdis[vdi] else { throw SREngineError.vdiNotFound(uuid: vdi) }
                guard !record.hidden, meta.children(of: vdi).isEmpty else {
                    throw SREngineError.resizeRefused(uuid: vdi, detail: "other images depend on it")
                }
                guard size >= record.virtualSize else {
                    throw SREngineError.vdiSize(requested: requested,
                                                detail: "shrinking from \(record.virtualSize) bytes is not supported")
                }
                if size == record.virtualSize { return record }
                try ensureSpace(SpaceAccounting.emptyImageBytes(virtualSize: size) + utilisation(vdi), for: "VDI resize")
                var journal = Journal(kind: .resize, vdi: vdi)
                journal.newSize = size
                try begin(journal)
                try step("resize.copy")
                try writeGrownCopy(vdi, size: size, parent: record.parent)
                try step("resize.commit")
                try repository.renameVolume(VolumeName.resized(vdi), to: VolumeName.image(vdi))
                try repository.syncNamespace()
                return try finishResize(journal)
            }
        } }
    }

    private func writeGrownCopy(_ vdi: String, size: UInt64, parent: String?) throws {
        let source = try repository.openVolume(VolumeName.image(vdi), readOnly: true, on: loop)
        defer { source.close() }
        let target = try repository.createVolume(VolumeName.resized(vdi), on: loop)
        defer { target.close() }
        var link: (String, ImageFormats.Footer)?
        if let parent {
            link = (repository.path(of: VolumeName.image(parent)), try footer(of: VolumeName.image(parent)))
        }
        do {
            try VHDGrow.copy(from: source, to: target, targetPath: repository.path(of: VolumeName.image(vdi)),
                             newSize: size, parent: link)
        } catch let e as SREngineError {
            throw e
        } catch {
            throw SREngineError.resizeRefused(uuid: vdi, detail: "\(error)")
        }
    }

    func resizeCommitted(_ j: Journal) -> Bool {
        (try? imageInfo(VolumeName.image(j.vdi)).virtualSize) == j.newSize
    }

    func finishResize(_ j: Journal) throws -> VDIRecord {
        try step("resize.metadata")
        var result: VDIRecord?
        try updateMetadata { meta in
            guard var r = meta.vdis[j.vdi] else { return }
            r.virtualSize = j.newSize!
            r.physicalUtilisation = utilisation(j.vdi)
            meta.vdis[j.vdi] = r
            result = r
        }
        try finish(j)
        guard let result else { throw SREngineError.vdiNotFound(uuid: j.vdi) }
        return result
    }
}

import ImageFormats
