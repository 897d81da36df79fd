import Glibc
import ImageFormats
import StorageIO

/// Points a differencing VHD at another parent in place, as `vhd-util modify -p` does:
/// parent UUID, time stamp, name and the locators' paths are rewritten; data, BAT and
/// footers are untouched, so it costs a few sectors whatever the image holds.
///
/// Used by coalesce to relink the children of the merged node to its parent. The parent
/// lives in the same SR directory, so every locator keeps its length class (`<uuid>.vhd`)
/// and fits its reserved space. Locator payloads are written before the header that
/// describes them, each in whole sectors, then flushed; then the header sectors that
/// change. Idempotent: an image already pointing at the parent is left alone.
enum ParentRelink {
    /// Makes the image in `store` a child of `parentFooter`'s image named `parentName`
    /// (the file name next to it). Returns false when it already was.
    @discardableResult
    static func relink(_ store: any BlockIO, parentName: String, parentFooter: Footer, parentMTime: Int64) throws -> Bool {
        let image = try VHDImage.open(store, readOnly: true)
        guard image.diskType == .differencing, var header = image.header else {
            throw SREngineError.imageDamaged(path: store.name, detail: "not a differencing image: cannot relink")
        }
        let timestamp = UInt32(clamping: parentMTime - VHDLimits.epochUnixSeconds)
        if header.parentUUID == parentFooter.uuid && header.parentName == parentName { return false }
        guard store.capabilities.alignment <= Int(VHDLimits.sectorBytes) else {
            throw SREngineError.unsupported("relinking on a store with \(store.capabilities.alignment)-byte alignment")
        }
        var payloads: [(UInt64, [UInt8])] = []
        for (i, l) in header.locators.enumerated() where !l.isEmpty {
            guard [ParentLocator.codeMacX, ParentLocator.codeW2ku, ParentLocator.codeW2ru].contains(l.platformCode) else {
                header.locators[i] = .empty  // an encoding we do not write: drop it rather than leave it stale
                continue
            }
            let data = ParentLocator.encodePath(parentName, code: l.platformCode)
            guard let space = l.spaceBytes, UInt64(data.count) <= space, l.dataOffset % VHDLimits.sectorBytes == 0 else {
                throw SREngineError.imageDamaged(path: store.name, detail: "parent locator \(i) has no room for \(parentName)")
            }
            header.locators[i].dataLength = UInt32(data.count)
            payloads.append((l.dataOffset, data + [UInt8](repeating: 0, count: Int(space) - data.count)))
        }
        header.parentUUID = parentFooter.uuid
        header.parentTimestamp = timestamp
        header.parentUnicodeName = Array(parentName.utf16.prefix(VHDLimits.parentNameBytes / 2))
        for (at, bytes) in payloads { try writeSectors(store, bytes, at: at) }
        try store.flush()
        // Only the header sectors that change are written: with a parent name of the same
        // length (always, in an SR) that is the first one alone, so even a power cut leaves
        // the old header or the new one, never a torn mix that fails its checksum.
        let new = header.encode(), old = try readSectors(store, count: new.count, at: image.footer.dataOffset)
        let sector = Int(VHDLimits.sectorBytes)
        for i in stride(from: 0, to: new.count, by: sector) where new[i..<(i + sector)] != old[i..<(i + sector)] {
            try writeSectors(store, Array(new[i..<(i + sector)]), at: image.footer.dataOffset + UInt64(i))
        }
        try store.flush()
        return true
    }

    static func readSectors(_ store: any BlockIO, count: Int, at offset: UInt64) throws -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 4096)
        defer { buffer.deallocate() }
        try store.read(into: buffer, at: offset)
        return Array(buffer)
    }

    /// Writes whole sectors through an aligned buffer (stores may be O_DIRECT).
    static func writeSectors(_ store: any BlockIO, _ bytes: [UInt8], at offset: UInt64) throws {
        precondition(bytes.count % Int(VHDLimits.sectorBytes) == 0 && offset % VHDLimits.sectorBytes == 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 4096)
        defer { buffer.deallocate() }
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        try store.write(UnsafeRawBufferPointer(buffer), at: offset)
    }

    /// The modification time of `path` (libvhd stores the parent file's mtime).
    static func mtime(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_mtim.tv_sec) : Int64(time(nil))
    }
}

extension AttachedSR {
    /// Points VDI `child`'s image at VDI `parent`'s image (idempotent).
    func relinkImage(_ child: String, toParent parent: String) throws {
        let parentVolume = VolumeName.image(parent)
        let parentFooter = try footer(of: parentVolume)
        let mtime = ParentRelink.mtime(repository.path(of: parentVolume))
        let store = try repository.openVolume(VolumeName.image(child), readOnly: false, on: loop)
        defer { store.close() }
        try ParentRelink.relink(store, parentName: parentVolume, parentFooter: parentFooter, parentMTime: mtime)
    }
}
