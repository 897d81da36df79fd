import ImageFormats
import StorageIO

/// What the engine reads from an image file without trusting the SR metadata: identity,
/// size, hidden flag and parent name. Used by scan, recovery and every operation's checks.
struct ImageInfo: Equatable {
    var footerUUID: VHDUUID
    var virtualSize: UInt64
    var hidden: Bool
    /// The parent's VDI uuid (from the header's parent name `<uuid>.vhd`), nil for none.
    var parent: String?
    var diskType: VHDDiskType
}

extension AttachedSR {
    /// Reads an image's footer and header (read-only open).
    func imageInfo(_ volume: String) throws -> ImageInfo {
        let store = try repository.openVolume(volume, readOnly: true, on: loop)
        defer { store.close() }
        let image: VHDImage
        do { image = try VHDImage.open(store, readOnly: true) } catch {
            throw SREngineError.imageDamaged(path: repository.path(of: volume), detail: "\(error)")
        }
        var parent: String?
        if image.diskType == .differencing, let header = image.header {
            let name = header.parentName.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
            parent = name.hasSuffix(".vhd") ? String(name.dropLast(4)) : name
        }
        return ImageInfo(footerUUID: image.footer.uuid, virtualSize: image.virtualSize, hidden: image.isHidden,
                         parent: parent, diskType: image.diskType)
    }

    /// Sets or clears the hidden flag of an image (both footers, flushed; the tables are
    /// not read, so this costs the same for every size).
    func setHidden(_ volume: String, _ hidden: Bool) throws {
        let store = try repository.openVolume(volume, readOnly: false, on: loop)
        defer { store.close() }
        do { try VHDImage.setHiddenFlag(store, hidden) } catch let error as VHDError {
            throw SREngineError.imageDamaged(path: repository.path(of: volume), detail: "\(error)")
        }
    }

    /// Reads the footer of a VHD (for parent links and sizes), not its tables.
    func footer(of volume: String) throws -> Footer {
        let store = try repository.openVolume(volume, readOnly: true, on: loop)
        defer { store.close() }
        do { return try VHDImage.readFooter(store) } catch {
            throw SREngineError.imageDamaged(path: repository.path(of: volume), detail: "\(error)")
        }
    }
}

/// Names of image files in the SR namespace.
enum VolumeName {
    static let suffix = ".vhd"
    static func image(_ vdi: String) -> String { vdi + suffix }
    /// A new image being built; renamed to its final name as the commit of its step.
    static func partial(_ vdi: String) -> String { vdi + suffix + ".partial" }
    /// A snapshot's replacement leaf for the original VDI.
    static func newLeaf(_ vdi: String) -> String { vdi + suffix + ".new" }
    /// A resized copy.
    static func resized(_ vdi: String) -> String { vdi + suffix + ".resize" }

    /// A preformatted image waiting in the pool (`BlankPool`), and one being formatted.
    static func blank(_ id: String) -> String { id + ".blank" }
    static func partialBlank(_ id: String) -> String { id + ".blank.partial" }
    static func isBlank(_ name: String) -> Bool { name.hasSuffix(".blank") }

    /// The VDI uuid of a final image name, nil for anything else.
    static func vdi(of name: String) -> String? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = String(name.dropLast(suffix.count))
        return UUIDText.isValid(stem) ? stem : nil
    }

    /// The VDI a temporary belongs to, nil when `name` is not one of ours.
    static func temporaryOwner(_ name: String) -> String? {
        if name.hasSuffix(".blank.partial") { return String(name.dropLast(".blank.partial".count)) }
        for tail in [".partial", ".new", ".resize"] where name.hasSuffix(suffix + tail) {
            let stem = String(name.dropLast(suffix.count + tail.count))
            return UUIDText.isValid(stem) ? stem : nil
        }
        return nil
    }
}
