import ImageFormats
import StorageIO

/// A VDI opened for its data (import, export, the demo): the image chain as one disk,
/// with the VDI's lock held until `close`, so no snapshot or destroy swaps the image
/// underneath.
public final class VDIDataHandle {
    public let record: VDIRecord
    /// The chain, leaf first; writable only through the leaf.
    public let image: ImageChain
    private let lock: LockFile
    private weak var sr: AttachedSR?
    private var closed = false

    init(record: VDIRecord, image: ImageChain, lock: LockFile, sr: AttachedSR) {
        self.record = record
        self.image = image
        self.lock = lock
        self.sr = sr
    }

    /// Flushes and closes the chain, records the new physical utilisation, releases the lock.
    public func close() throws {
        guard !closed else { return }
        closed = true
        defer { lock.release() }
        try image.close()
        if !record.readOnly, let sr {
            try sr.withSRLock {
                try sr.updateMetadata { meta in
                    meta.vdis[record.uuid]?.physicalUtilisation = sr.utilisation(record.uuid)
                }
            }
        }
    }

    deinit { if !closed { try? image.close(); lock.release() } }
}

extension AttachedSR {
    /// Opens a VDI's chain; `writable` requires a visible, writable leaf.
    public func openData(_ vdi: String, writable: Bool) throws -> VDIDataHandle {
        let lock = repository.vdiLock(vdi)
        guard try lock.acquire() else { throw SREngineError.vdiInUse(uuid: vdi) }
        do {
            let (record, isLeaf) = try withSRLock { () -> (VDIRecord, Bool) in
                let meta = try metadata()
                guard let r = meta.vdis[vdi] else { throw SREngineError.vdiNotFound(uuid: vdi) }
                return (r, meta.children(of: vdi).isEmpty)
            }
            if writable {
                guard !record.hidden, !record.readOnly, isLeaf else {
                    throw SREngineError.vdiUnavailable(uuid: vdi, detail: "it is read-only or other images depend on it")
                }
            }
            let chain: ImageChain
            do {
                chain = try repository.openChain(VolumeName.image(vdi), readOnly: !writable, on: loop)
            } catch {
                throw SREngineError.imageDamaged(path: repository.path(of: VolumeName.image(vdi)), detail: "\(error)")
            }
            var r = record
            if !writable { r.readOnly = true }
            return VDIDataHandle(record: r, image: chain, lock: lock, sr: self)
        } catch {
            lock.release()
            throw error
        }
    }
}
