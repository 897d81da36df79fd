/// The engine's own failures. Front ends map them to their codes (SM error codes, exit
/// statuses) in one table at their edge; the engine knows nothing of those codes.
public enum SREngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required device-config key is absent.
    case configMissing(key: String)
    /// A device-config value is unusable (a location that is not a directory, ...).
    case configInvalid(key: String, detail: String)
    case unknownSRType(String)
    case srExists(uuid: String)
    case srNotFound(uuid: String)
    /// SR destroy refused: these VDIs still exist.
    case srNotEmpty(uuid: String, vdis: [String])
    case vdiNotFound(uuid: String)
    case vdiExists(uuid: String)
    /// A size outside [min, max], or smaller than the current size on resize.
    case vdiSize(requested: UInt64, detail: String)
    /// A resize that cannot be done (not a leaf, a raw image...).
    case resizeRefused(uuid: String, detail: String)
    case chainTooLong(uuid: String, depth: Int)
    case noSpace(needed: UInt64, available: UInt64, operation: String)
    /// The VDI cannot be used for this: hidden base copy, read-only, not a VHD...
    case vdiUnavailable(uuid: String, detail: String)
    /// Another process holds the VDI's lock for longer than the wait limit.
    case vdiInUse(uuid: String)
    /// A lock could not be taken (timeout or lock file error).
    case lockFailed(path: String, detail: String)
    case invalidArgument(String)
    /// SR metadata or a journal failed its checksum or could not be decoded.
    case metadataCorrupt(path: String, detail: String)
    /// An image is damaged or unreadable (the formats layer's finding, as text).
    case imageDamaged(path: String, detail: String)
    /// A system call failed.
    case system(operation: String, path: String, errno: Int32)
    case unsupported(String)

    public var description: String {
        switch self {
        case let .configMissing(key): "device-config key '\(key)' is required"
        case let .configInvalid(key, detail): "device-config '\(key)': \(detail)"
        case let .unknownSRType(t): "unknown SR type '\(t)'"
        case let .srExists(uuid): "SR \(uuid) already exists"
        case let .srNotFound(uuid): "no SR with uuid \(uuid) is known here"
        case let .srNotEmpty(uuid, vdis): "SR \(uuid) still holds \(vdis.count) VDI(s): \(vdis.prefix(5).joined(separator: ", "))"
        case let .vdiNotFound(uuid): "no VDI with uuid \(uuid) in this SR"
        case let .vdiExists(uuid): "VDI \(uuid) already exists"
        case let .vdiSize(requested, detail): "size \(requested) bytes refused: \(detail)"
        case let .resizeRefused(uuid, detail): "VDI \(uuid) cannot be resized: \(detail)"
        case let .chainTooLong(uuid, depth): "VDI \(uuid) already has a chain of \(depth) images (limit \(SRLimits.chainDepthMax))"
        case let .noSpace(needed, available, op): "\(op) needs \(needed) bytes but only \(available) are free"
        case let .vdiUnavailable(uuid, detail): "VDI \(uuid) is unavailable: \(detail)"
        case let .vdiInUse(uuid): "VDI \(uuid) is in use by another operation"
        case let .lockFailed(path, detail): "lock \(path): \(detail)"
        case let .invalidArgument(text): text
        case let .metadataCorrupt(path, detail): "\(path): damaged metadata: \(detail)"
        case let .imageDamaged(path, detail): "\(path): \(detail)"
        case let .system(op, path, code): "\(op) \(path): \(String(cString: strerror(code))) (errno \(code))"
        case let .unsupported(text): "not supported: \(text)"
        }
    }
}

import Glibc
