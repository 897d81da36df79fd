import Glibc

/// What a BlockIO request asked for, named in errors and traces.
public enum IOOperation: UInt8, Sendable, CustomStringConvertible {
    case read, write, flush, discard

    public var description: String {
        switch self {
        case .read: "read"
        case .write: "write"
        case .flush: "flush"
        case .discard: "discard"
        }
    }
}

/// The operating errors of the BlockIO layer. Each names the store and the request that failed.
///
/// Programmer errors (a request submitted twice, a buffer too small for its length) stop the
/// process instead; corruption belongs to the image layers above.
public enum BlockIOError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Offset, length or buffer address is not a multiple of the store's alignment (O_DIRECT).
    case unaligned(store: String, operation: IOOperation, field: String, value: UInt64, alignment: Int)
    /// The request reaches past the end of the store.
    case outOfRange(store: String, operation: IOOperation, offset: UInt64, length: UInt64, size: UInt64)
    /// One request may move at most `maximum` bytes.
    case transferTooLarge(store: String, length: Int, maximum: Int)
    case readOnly(store: String, operation: IOOperation)
    case closed(store: String, operation: IOOperation)
    /// The store cannot do this at all (discard on a store without trim, shrinking, ...).
    case unsupported(store: String, what: String)
    case noSpace(store: String, operation: IOOperation, offset: UInt64, length: UInt64)
    /// The kernel or the device failed the request with `errno`.
    case io(store: String, operation: IOOperation, offset: UInt64, length: UInt64, errno: Int32)
    /// The store could not be opened or created.
    case open(path: String, errno: Int32, detail: String)
    /// A forced I/O engine cannot run here.
    case engineUnavailable(engine: String, reason: String)

    public var description: String {
        switch self {
        case let .unaligned(store, op, field, value, alignment):
            "\(store): \(op) \(field) \(value) is not a multiple of the required alignment \(alignment)"
        case let .outOfRange(store, op, offset, length, size):
            "\(store): \(op) of \(length) bytes at \(offset) reaches past the end of the store (\(size) bytes)"
        case let .transferTooLarge(store, length, maximum):
            "\(store): a request of \(length) bytes exceeds the maximum transfer of \(maximum) bytes"
        case let .readOnly(store, op):
            "\(store): \(op) refused: the store is read-only"
        case let .closed(store, op):
            "\(store): \(op) refused: the store is closed"
        case let .unsupported(store, what):
            "\(store): \(what) is not supported"
        case let .noSpace(store, op, offset, length):
            "\(store): no space left for \(op) of \(length) bytes at \(offset)"
        case let .io(store, op, offset, length, errno):
            "\(store): \(op) of \(length) bytes at \(offset) failed: \(errnoName(errno))"
        case let .open(path, errno, detail):
            "\(path): cannot open: \(errnoName(errno))\(detail.isEmpty ? "" : " (\(detail))")"
        case let .engineUnavailable(engine, reason):
            "I/O engine \(engine) is unavailable: \(reason)"
        }
    }

    /// The errno an NBD server or a C caller would report for this error.
    public var errno: Int32 {
        switch self {
        case .unaligned, .transferTooLarge: EINVAL
        case .outOfRange: EINVAL
        case .readOnly: EPERM
        case .closed: EBADF
        case .unsupported: EOPNOTSUPP
        case .noSpace: ENOSPC
        case let .io(_, _, _, _, code): code
        case let .open(_, code, _): code
        case .engineUnavailable: ENOSYS
        }
    }
}

/// "EIO (Input/output error)": the symbolic name with the C library's text.
func errnoName(_ code: Int32) -> String {
    let names: [Int32: String] = [
        EIO: "EIO", ENOSPC: "ENOSPC", EINVAL: "EINVAL", EPERM: "EPERM", EACCES: "EACCES",
        ENOENT: "ENOENT", EBADF: "EBADF", ENOSYS: "ENOSYS", EOPNOTSUPP: "EOPNOTSUPP",
        EAGAIN: "EAGAIN", EINTR: "EINTR", EFBIG: "EFBIG", EROFS: "EROFS", ETIMEDOUT: "ETIMEDOUT",
        EEXIST: "EEXIST", EISDIR: "EISDIR", ENOMEM: "ENOMEM",
    ]
    let text = String(cString: strerror(code))
    return "\(names[code] ?? "errno \(code)") (\(text))"
}
