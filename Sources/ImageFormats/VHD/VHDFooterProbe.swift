import StorageIO

/// Finds a VHD's footer: the trailing copy at EOF−512 (or a 511-byte "short" one), and the
/// backup copy at offset 0 that dynamic and differencing disks carry.
///
/// While blktap holds a VHD open the trailing footer is often stale or missing, so the
/// backup at 0 is authoritative for dynamic and differencing disks; a fixed disk has only
/// the trailing one.
struct VHDFooterProbe {
    var trailing: Result<Footer, VHDError>
    var trailingOffset: UInt64
    var backup: Result<Footer, VHDError>
    /// The footer to use, or the error that explains why there is none.
    var chosen: Result<Footer, VHDError>

    static func run(_ store: any BlockIO) throws -> VHDFooterProbe {
        let file = store.name, size = store.size
        let sector = UInt64(VHDLimits.footerBytes)
        guard size >= sector else {
            let e = VHDError(.truncated, file: file, offset: 0, field: "footer", "file of \(size) bytes cannot hold a footer")
            return VHDFooterProbe(trailing: .failure(e), trailingOffset: 0, backup: .failure(e), chosen: .failure(e))
        }
        var trailingOffset = size - sector
        var trailing = try decodeAt(store, trailingOffset, count: VHDLimits.footerBytes)
        if case .failure = trailing, size % sector == 511 {
            // A "short" footer: a file of 512n+511 bytes whose last (reserved, zero) byte is missing.
            let short = try decodeAt(store, size - 511, count: 511)
            if case .success = short { trailing = short; trailingOffset = size - 511 }
        }
        let backup = try decodeAt(store, 0, count: VHDLimits.footerBytes)
        let chosen: Result<Footer, VHDError>
        switch (trailing, backup) {
        case let (.success(t), _) where t.diskType == .fixed:
            chosen = .success(t)
        case let (_, .success(b)) where b.diskType != .fixed:
            chosen = .success(b)
        case let (.success(t), _):
            chosen = .success(t)
        case let (.failure(t), .failure(b)):
            // Name the copy that looks like a footer at all: a damaged backup of a dynamic
            // disk, else the trailing footer (a fixed disk's only copy).
            chosen = .failure(b.kind == .badCookie ? t : b)
        case let (.failure(t), .success):
            chosen = .failure(t)
        }
        return VHDFooterProbe(trailing: trailing, trailingOffset: trailingOffset, backup: backup, chosen: chosen)
    }

    private static func decodeAt(_ store: any BlockIO, _ offset: UInt64, count: Int) throws -> Result<Footer, VHDError> {
        var bytes = try store.readBytes(count: count, at: offset)
        if bytes.count < VHDLimits.footerBytes { bytes += [UInt8](repeating: 0, count: VHDLimits.footerBytes - bytes.count) }
        do { return .success(try Footer.decode(bytes, file: store.name, offset: offset)) } catch let e as VHDError {
            return .failure(e)
        }
    }

    var trailingFooter: Footer? { try? trailing.get() }
    var backupFooter: Footer? { try? backup.get() }
}

extension VHDImage {
    /// The footer of the VHD in `store`, without reading its tables: identity, size, type
    /// and hidden flag cost two sector reads even for a 2040 GiB image.
    public static func readFooter(_ store: any BlockIO) throws -> Footer {
        try VHDFooterProbe.run(store).chosen.get()
    }

    /// Sets or clears the hidden flag in both footer copies without opening the tables, and
    /// flushes. Falls back to a full open when the trailing copy is not a valid footer (an
    /// image left open by a crash), which rewrites it where it belongs.
    public static func setHiddenFlag(_ store: any BlockIO, _ hidden: Bool) throws {
        let probe = try VHDFooterProbe.run(store)
        var footer = try probe.chosen.get()
        guard (footer.hidden != 0) != hidden else { return }
        footer.hidden = hidden ? 1 : 0
        guard probe.trailingFooter != nil, probe.trailingOffset == store.size - UInt64(VHDLimits.footerBytes) else {
            let image = try VHDImage.open(store)
            try image.setHidden(hidden)
            try image.flush()
            return
        }
        if footer.diskType != .fixed { try store.writeBytes(footer.encode(), at: 0) }
        try store.writeBytes(footer.encode(), at: probe.trailingOffset)
        try store.flush()
    }
}
