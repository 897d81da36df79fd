import Foundation
import ImageFormats
import NBDClient
import SREngine
import StorageIO

/// What a job's `filename` names, and how to open it as a BlockIO.
public enum BenchTarget: Equatable, Sendable, CustomStringConvertible {
    case file(String)
    case nbd(String)
    case vdi(String)
    /// A VHD (or raw) image file and the chain under it, opened in process: `image:PATH`.
    case image(String)

    public init(_ text: String) {
        if text.hasPrefix("nbd://") || text.hasPrefix("nbd+unix://") || text.hasPrefix("nbds://")
            || text.hasPrefix("nbd+vsock://") {
            self = .nbd(text)
        } else if text.hasPrefix("vdi=") {
            self = .vdi(String(text.dropFirst(4)))
        } else if text.hasPrefix("image:") {
            self = .image(String(text.dropFirst(6)))
        } else {
            self = .file(text)
        }
    }

    public var description: String {
        switch self {
        case let .file(path): path
        case let .nbd(uri): uri
        case let .vdi(uuid): "vdi=\(uuid)"
        case let .image(path): "image:\(path)"
        }
    }

    /// Opens the target on `loop`. A file that does not exist is created with the job's size,
    /// as fio does.
    /// `environment` locates the host registry and lock directory for `vdi=` targets.
    public func open(on loop: EventLoop, job: JobSpec,
                     environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any BlockIO {
        switch self {
        case let .file(path):
            let exists = FileManager.default.fileExists(atPath: path)
            let store = try LocalFile.open(path, on: loop, options: .init(create: !exists, direct: job.direct, engine: job.engine))
            if !exists, let size = job.size {
                try store.resize(to: job.offset + size)
            }
            return store
        case let .nbd(uri):
            return try NBDClientStore(uri: uri, on: loop)
        case let .vdi(uuid):
            return try openVDI(uuid, writable: job.writes, environment: environment)
        case let .image(path):
            return DiskImageStore(image: try ImageChain.open(path, on: loop, readOnly: !job.writes))
        }
    }

    /// A VDI of a registered SR (the registry sm-cli keeps; `SM_REGISTRY` overrides its
    /// path), opened through the engine: its image chain as one store, the VDI's lock held
    /// until the job closes it.
    private func openVDI(_ uuid: String, writable: Bool, environment: [String: String]) throws -> any BlockIO {
        let registry = HostRegistry(path: HostRegistry.defaultPath(environment: environment))
        let manager = SRManager(options: EngineOptions(lockDirectory: environment["SM_LOCK_DIR"]))
        let (sr, _) = try registry.attachSR(holding: uuid, manager: manager)
        let handle = try sr.openData(uuid, writable: writable)
        let store = DiskImageStore(image: handle.image)
        store.closeImage = { try? handle.close() }
        return store
    }
}
