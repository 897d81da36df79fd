import Glibc
import ImageFormats
import NBD
import StorageIO

/// The one table that turns the layers' errors into the errno values NBD can carry.
public enum NBDErrorMapping {
    /// The NBD error a client sees for `error`.
    public static func nbdError(_ error: any Error) -> NBDError {
        switch error {
        case let e as NBDError: return e
        case let e as BlockIOError: return nbdError(e)
        case let e as DiskImageError:
            switch e {
            case .unaligned, .outOfRange: return .invalid
            case .readOnly: return .permission
            }
        default: return .io
        }
    }

    public static func nbdError(_ error: BlockIOError) -> NBDError {
        switch error {
        case .unaligned, .transferTooLarge, .outOfRange: return .invalid
        case .readOnly: return .permission
        case .closed: return .shutdown
        case .unsupported: return .notSupported
        case .noSpace: return .noSpace
        case let .io(_, _, _, _, code): return nbdError(errno: code)
        case .open, .engineUnavailable: return .io
        }
    }

    /// Maps a raw errno: quota and file-size limits are "no space", as proto.md asks.
    public static func nbdError(errno code: Int32) -> NBDError {
        switch code {
        case ENOSPC, EDQUOT, EFBIG: return .noSpace
        case EPERM, EACCES, EROFS: return .permission
        case ENOMEM: return .noMemory
        case EINVAL: return .invalid
        case EOPNOTSUPP: return .notSupported
        case EOVERFLOW: return .overflow
        case ESHUTDOWN: return .shutdown
        default: return .io
        }
    }
}
