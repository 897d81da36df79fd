import Glibc
import ImageFormats
import NFSStore
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
        if path.hasPrefix("nfs://") { return try openNFSExport(path, format: format, on: loop, readOnly: readOnly) }
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

    /// One file as a store: local (O_DIRECT unless `direct` is false), or `nfs://` over its
    /// own connection to the file's directory, on `loop`.
    static func openStore(_ path: String, readOnly: Bool, on loop: EventLoop, direct: Bool) throws -> any BlockIO {
        guard path.hasPrefix("nfs://") else {
            return try LocalFile.open(path, on: loop, options: .init(readOnly: readOnly, direct: direct))
        }
        let (server, p) = try NFSServer.parse(url: path)
        return try NFSConnection(server: server, root: PathText.dirname(p))
            .openFile("/" + PathText.basename(p), readOnly: readOnly, on: loop)
    }

    /// An image on an NFS server (`nfs://host/dir/file?nfsport=…`, see `NFSServer.parse`):
    /// one connection to its directory serves the image and its parents, asynchronously on
    /// `loop`. Parents must sit in the same directory, as they do in an SR.
    static func openNFSExport(_ url: String, format: ExportFormat, on loop: EventLoop, readOnly: Bool) throws -> any ExportBackend {
        let (server, path) = try NFSServer.parse(url: url)
        let directory = PathText.dirname(path)
        let connection = try NFSConnection(server: server, root: directory)
        let open = { (p: String, ro: Bool) throws -> any BlockIO in
            let prefix = directory == "/" ? "/" : directory + "/"
            guard p.hasPrefix(prefix), !p.dropFirst(prefix.count).contains("/") else {
                throw BlockIOError.open(path: p, errno: ENOENT, detail: "not in \(directory) on \(server.host)")
            }
            return try connection.openFile("/" + p.dropFirst(prefix.count), readOnly: ro, on: loop)
        }
        switch format.resolved(for: path) {
        case .vhd:
            return DiskImageExport(image: try ImageChain.open(path, readOnly: readOnly, opener: open), readOnly: readOnly)
        case .raw, .auto:
            return BlockIOExport(store: try open(path, readOnly), readOnly: readOnly)
        }
    }
}
