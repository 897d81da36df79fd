import ImageFormats
import StorageIO

/// The image formats the daemon can serve, and how to open a file as an export.
public enum ExportFormat: String, Sendable, CaseIterable {
    case raw, vhd, auto

    /// `auto` decides by the file name: `.vhd` is VHD, anything else raw.
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
        let store = try LocalFile.open(path, on: loop, options: LocalFile.Options(readOnly: readOnly, direct: direct))
        do {
            switch format.resolved(for: path) {
            case .vhd:
                return DiskImageExport(image: try VHDImage.open(store, readOnly: readOnly), readOnly: readOnly)
            case .raw, .auto:
                return BlockIOExport(store: store, readOnly: readOnly)
            }
        } catch {
            store.close()
            throw error
        }
    }
}
