import CURing
import Glibc

/// An open local file or block device, with what the kernel says about direct I/O on it.
struct OpenedFile {
    let fd: Int32
    let path: String
    let isDirect: Bool
    let isBlockDevice: Bool
    let isReadOnly: Bool
    let alignment: Int
    let size: UInt64

    /// Opens `path` with O_DIRECT when asked, falling back to buffered I/O where the
    /// filesystem refuses it (tmpfs answers EINVAL).
    /// `systemOpen` is open(2); tests replace it to play a filesystem that refuses O_DIRECT.
    static func open(path: String, readOnly: Bool, create: Bool, direct: Bool,
                     systemOpen: (String, Int32) -> Int32 = { Glibc.open($0, $1, 0o600) }) throws -> OpenedFile {
        var flags = (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC
        if create { flags |= O_CREAT }
        var fd: Int32 = -1
        var isDirect = false
        if direct {
            fd = systemOpen(path, flags | CUR_O_DIRECT)
            isDirect = fd >= 0
            if fd < 0 && errno != EINVAL {
                throw BlockIOError.open(path: path, errno: errno, detail: "")
            }
            if fd < 0 {
                IOEngineLog.note("\(path): O_DIRECT refused by the filesystem; using buffered I/O")
            }
        }
        if fd < 0 {
            fd = systemOpen(path, flags)
            guard fd >= 0 else { throw BlockIOError.open(path: path, errno: errno, detail: "") }
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw BlockIOError.open(path: path, errno: code, detail: "fstat")
        }
        let isBlockDevice = (st.st_mode & S_IFMT) == S_IFBLK
        let isRegular = (st.st_mode & S_IFMT) == S_IFREG
        guard isBlockDevice || isRegular else {
            Glibc.close(fd)
            throw BlockIOError.open(path: path, errno: EINVAL, detail: "not a regular file or block device")
        }
        let size = isBlockDevice ? UInt64(max(0, cur_block_device_size(fd))) : UInt64(st.st_size)
        var alignment = 1
        if isDirect {
            let reported = isBlockDevice ? cur_block_device_sector_size(fd) : cur_dio_offset_alignment(fd)
            alignment = reported > 0 ? Int(reported) : 512
        }
        return OpenedFile(fd: fd, path: path, isDirect: isDirect, isBlockDevice: isBlockDevice,
                          isReadOnly: readOnly, alignment: alignment, size: size)
    }

    func capabilities() -> BlockIOCapabilities {
        BlockIOCapabilities(alignment: alignment, transferBytesMax: StorageLimits.fileTransferBytesMax,
                            canTrim: !isReadOnly, canFUA: true, isReadOnly: isReadOnly)
    }

    /// Grows or truncates a regular file; block devices have a fixed size.
    func resize(to newSize: UInt64) throws {
        guard !isBlockDevice else {
            throw BlockIOError.unsupported(store: path, what: "resizing a block device")
        }
        guard !isReadOnly else { throw BlockIOError.readOnly(store: path, operation: .write) }
        if ftruncate(fd, off_t(newSize)) != 0 {
            throw BlockIOError.io(store: path, operation: .write, offset: newSize, length: 0, errno: errno)
        }
    }

    /// Maps a failed request's errno to the typed error.
    func failure(_ request: IORequest, errno code: Int32) -> BlockIOError {
        if code == ENOSPC || code == EDQUOT {
            return .noSpace(store: path, operation: request.operation, offset: request.offset,
                            length: UInt64(request.length))
        }
        return .io(store: path, operation: request.operation, offset: request.offset,
                   length: UInt64(request.length), errno: code)
    }
}
