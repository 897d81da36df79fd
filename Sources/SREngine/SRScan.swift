/// What a scan changed in the SR metadata to make it match the images present.
public enum ScanChange: Equatable, Sendable, CustomStringConvertible {
    /// An image without a record got one.
    case adopted(vdi: String)
    /// A record whose image is gone was dropped.
    case forgotten(vdi: String)
    /// A record disagreed with its image on these fields; the image won.
    case updated(vdi: String, fields: [String])
    /// An image could not be read; its record (if any) was left alone.
    case unreadable(vdi: String, detail: String)

    public var description: String {
        switch self {
        case let .adopted(v): "adopted \(v)"
        case let .forgotten(v): "forgot \(v)"
        case let .updated(v, fields): "updated \(v): \(fields.joined(separator: ", "))"
        case let .unreadable(v, detail): "unreadable \(v): \(detail)"
        }
    }
}

extension AttachedSR {
    /// Reconciles records with the images present (after finishing interrupted operations)
    /// and reports what changed. Images are the truth: XenServer's SM scans the same way.
    public func scan() throws -> [ScanChange] {
        let changes = try withSRLock {
            try recover()
            return try reconcile()
        }
        kickGarbageCollector()
        return changes
    }

    func reconcile() throws -> [ScanChange] {
        var meta = try metadata()
        let before = meta
        let images = Set(try repository.volumeNames().compactMap(VolumeName.vdi(of:)))
        var changes: [ScanChange] = []
        for uuid in meta.vdis.keys.sorted() where !images.contains(uuid) {
            meta.vdis[uuid] = nil
            changes.append(.forgotten(vdi: uuid))
        }
        for uuid in images.sorted() {
            let info: ImageInfo
            do { info = try imageInfo(VolumeName.image(uuid)) } catch {
                changes.append(.unreadable(vdi: uuid, detail: "\(error)"))
                continue
            }
            guard var record = meta.vdis[uuid] else {
                meta.vdis[uuid] = try adoptedRecord(uuid)
                changes.append(.adopted(vdi: uuid))
                continue
            }
            var fields: [String] = []
            if record.virtualSize != info.virtualSize { record.virtualSize = info.virtualSize; fields.append("virtual-size") }
            if record.parent != info.parent { record.parent = info.parent; fields.append("vhd-parent") }
            if record.hidden != info.hidden {
                record.hidden = info.hidden
                fields.append("hidden")
                if info.hidden { record.managed = false; record.readOnly = true }
            }
            record.physicalUtilisation = utilisation(uuid)
            meta.vdis[uuid] = record
            if !fields.isEmpty { changes.append(.updated(vdi: uuid, fields: fields)) }
        }
        if meta != before || !repository.hasMetadata { try save(meta) }
        return changes
    }
}
