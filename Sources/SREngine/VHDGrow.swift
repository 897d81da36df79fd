import ImageFormats
import StorageIO

/// Grows a VHD by writing a larger copy: same footer uuid, same parent link, and exactly
/// the sectors the old image holds (so a differencing image still shows its parent through
/// the others). It costs the allocated data, not the virtual size.
///
/// Lives here until ImageFormats offers an in-place resize (BAT relocation, as
/// `vhd-util resize -j` does); the copy keeps the operation crash-safe by rename.
enum VHDGrow {
    /// Writes into `target` (an empty store) the image in `source` grown to `newSize`.
    /// `parent` is the parent's path and footer for a differencing image.
    static func copy(from source: any BlockIO, to target: any BlockIO, targetPath: String, newSize: UInt64,
                     parent: (path: String, footer: Footer)?) throws {
        let old = try VHDImage.open(source, readOnly: true)
        if let parent {
            var footer = parent.footer
            footer.currentSize = newSize
            try VHDCreate.differencing(on: target, childPath: targetPath, parentPath: parent.path, parent: footer,
                                       uuid: old.footer.uuid)
        } else {
            try VHDCreate.dynamic(on: target, size: newSize, uuid: old.footer.uuid)
        }
        let new = try VHDImage.open(target)
        let chunk = UInt64(SRLimits.copyChunkBytes)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(chunk), alignment: 4096)
        defer { buffer.deallocate() }
        for extent in try old.blockStatus(at: VirtualOffset(0), length: old.virtualSize) {
            guard case .data = extent.state else { continue }
            var pos = extent.offset.bytes
            let end = pos + extent.length
            while pos < end {
                let n = Int(min(chunk, end - pos))
                let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
                try old.read(into: slice, at: VirtualOffset(pos))
                try new.write(UnsafeRawBufferPointer(slice), at: VirtualOffset(pos))
                pos += UInt64(n)
            }
        }
        if old.isHidden { try new.setHidden(true) }
        try new.close()
    }
}
