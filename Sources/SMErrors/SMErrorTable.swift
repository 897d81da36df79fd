import Glibc
import ImageFormats
import NFSStore
import SREngine
import StorageIO

/// An error as SM reports it: its name and code in XenServer's `XE_SR_ERRORCODES.xml`, and
/// a readable message (SM's description plus the detail, as `[opterr=...]`).
public struct SMError: Equatable, Sendable, CustomStringConvertible {
    public var name: String
    public var code: Int
    public var message: String

    public var description: String { "\(name) (\(code)): \(message)" }
}

/// A front end's own error (a bad command line, a bad XML-RPC call) that knows its SM code.
public protocol SMErrorConvertible: Error {
    var smError: SMError { get }
}

/// The one table that turns the engine's, the formats' and the I/O layer's errors into SM
/// error codes; the CLI and the SMAPIv1 plugin both map through it, and nothing else knows a code.
public enum SMErrorTable {
    /// SM's message shape: the table's description, then the detail as `[opterr=...]`.
    public static func sm(_ name: String, _ code: Int, _ text: String, _ detail: String) -> SMError {
        SMError(name: name, code: code, message: "\(text) [opterr=\(detail)]")
    }

    public static func map(_ error: any Error) -> SMError {
        switch error {
        case let e as SMErrorConvertible: return e.smError
        case let e as SREngineError: return map(e)
        case let e as NFSSRError:
            // The plugin prints the <nfs-exports> document on stderr, as XenServer does.
            return sm("ConfigServerPathMissing", 101, "The server path argument is missing", e.description)
        case let e as NFSError:
            if case .timedOut = e { return sm("NFSTarget", 108, "Unable to detect an NFS service on this target.", e.description) }
            if case .mount = e { return sm("NFSMount", 73, "NFS mount error", e.description) }
            if case .invalidConfig = e { return sm("InvalidArg", 1, "Invalid argument", e.description) }
            return sm("EIO", 200, "General IO error", e.description)
        case let e as BlockIOError:
            if case .noSpace = e { return sm("SRNoSpace", 44, "There is insufficient space", e.description) }
            return sm("EIO", 200, "General IO error", e.description)
        case let e as VHDError:
            if e.kind == .sizeOutOfRange { return sm("VDISize", 79, "VDI Invalid size", e.description) }
            if e.kind == .chainTooDeep { return sm("SnapshotChainTooLong", 109, "The snapshot chain is too long", e.description) }
            return sm("VDILoad", 65, "Failed to load VDI", e.description)
        default:
            return sm("GenericException", 1200, "SM has thrown a generic python exception", "\(error)")
        }
    }

    static func map(_ e: SREngineError) -> SMError {
        let d = e.description
        switch e {
        case let .configMissing(key):
            if key == "location" { return sm("ConfigLocationMissing", 94, "The request is missing the location parameter", d) }
            return sm("ConfigParamsMissing", 115, "Not all required parameters specified.", d)
        case .configInvalid: return sm("SRUnavailable", 47, "The SR is not available", d)
        case .unknownSRType: return sm("InvalidArg", 1, "Invalid argument", d)
        case .srExists: return sm("SRExists", 42, "The SR already exists", d)
        case .srNotFound: return sm("SRUnavailable", 47, "The SR is not available", d)
        case .srNotEmpty: return sm("SRNotEmpty", 39, "The SR is not empty", d)
        case .vdiNotFound: return sm("VDIMissing", 144, "VDI could not be found", d)
        case .vdiExists: return sm("VDIExists", 43, "The VDI already exists", d)
        case .vdiSize: return sm("VDISize", 79, "VDI Invalid size", d)
        case .resizeRefused: return sm("VDIResize", 110, "The VDI resize operation failed", d)
        case .chainTooLong: return sm("SnapshotChainTooLong", 109, "The snapshot chain is too long", d)
        case .noSpace: return sm("SRNoSpace", 44, "There is insufficient space", d)
        case .vdiUnavailable: return sm("VDIUnavailable", 46, "Unable to attach or use the VDI", d)
        case .vdiInUse: return sm("VDIInUse", 24, "The VDI is currently in use", d)
        case .lockFailed: return sm("LockErr", 37, "Failed to acquire the lock", d)
        case .invalidArgument: return sm("InvalidArg", 1, "Invalid argument", d)
        case .metadataCorrupt: return sm("MetadataError", 181, "Error in the SR metadata", d)
        case .imageDamaged: return sm("VDILoad", 65, "Failed to load VDI", d)
        case let .system(_, _, code):
            if code == ENOSPC { return sm("SRNoSpace", 44, "There is insufficient space", d) }
            if code == EIO { return sm("EIO", 200, "General IO error", d) }
            return sm("SMGeneral", 202, "SM general error", d)
        case .unsupported: return sm("Unimplemented", 38, "Unimplemented", d)
        }
    }
}
