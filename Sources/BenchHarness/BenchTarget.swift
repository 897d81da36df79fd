import Foundation
import NBDClient
import StorageIO

/// What a job's `filename` names, and how to open it as a BlockIO.
public enum BenchTarget: Equatable, Sendable, CustomStringConvertible {
    case file(String)
    case nbd(String)
    case vdi(String)

    public init(_ text: String) {
        if text.hasPrefix("nbd://") || text.hasPrefix("nbd+unix://") || text.hasPrefix("nbds://")
            || text.hasPrefix("nbd+vsock://") {
            self = .nbd(text)
        } else if text.hasPrefix("vdi=") {
            self = .vdi(String(text.dropFirst(4)))
        } else {
            self = .file(text)
        }
    }

    public var description: String {
        switch self {
        case let .file(path): path
        case let .nbd(uri): uri
        case let .vdi(uuid): "vdi=\(uuid)"
        }
    }

    /// Opens the target on `loop`. A file that does not exist is created with the job's size,
    /// as fio does.
    public func open(on loop: EventLoop, job: JobSpec) throws -> any BlockIO {
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
            throw BenchTargetError.vdiUnavailable(uuid)
        }
    }
}

public enum BenchTargetError: Error, CustomStringConvertible {
    case vdiUnavailable(String)

    public var description: String {
        switch self {
        case let .vdiUnavailable(uuid):
            "vdi=\(uuid): this build has no SR/VDI engine to open VDIs with yet; use the VDI's file path or its NBD URI"
        }
    }
}
