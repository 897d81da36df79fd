import ImageFormats
import StorageIO

/// The image formats the daemon can serve, and how to open a file as an export.
public enum ExportFormat: String, Sendable, CaseIterable {
    case raw, vhd, auto

    /// `auto` decides by the file name: `.vhd` is VHD (with its parents, for a
    /// differencing disk), anything else raw.
    func resolved(for path: String) -> ExportFormat {
        guard self == .auto else { return self }
        return path.lowercased().hasSuffix(".vhd") ? .vhd : .raw
    }
}

extension ExportFormat {
    /// Opens `path` on `loop` and wraps it in the backend its format needs; `close()` the
    /// backend after the server stops.
    public static func openExport(_ path: String, format: ExportFormat, on loop: EventLoop, readOnly: Bool,
                                  direct: Bool = true) throws -> any ExportBackend {
        let options = { (ro: Bool) in LocalFile.Options(readOnly: ro, direct: direct) }
        switch format.resolved(for: path) {
        case .vhd:
            // The chain opens the parents read-only and checks every link.
            let chain = try ImageChain.open(path, readOnly: readOnly) { p, ro in
                try LocalFile.open(p, on: loop, options: options(ro))
            }
            return DiskImageExport(image: chain, readOnly: readOnly)
        case .raw, .auto:
            return BlockIOExport(store: try LocalFile.open(path, on: loop, options: options(readOnly)), readOnly: readOnly)
        }
    }
}
