import CNFS
import Glibc

/// What `stat` tells about a file or directory.
public struct NFSFileStatus: Sendable, Equatable {
    public var size: UInt64
    /// Bytes the server has allocated (sparse files allocate what was written).
    public var allocated: UInt64
    public var inode: UInt64
    public var isDirectory: Bool
    public var modificationTime: Int64
}

/// The namespace calls the SR driver needs, synchronous, each with soft-mount retries.
/// Paths are relative to the connection's mounted directory.
extension NFSConnection {
    /// The status of `path`, or nil when it does not exist.
    public func status(_ path: String) throws -> NFSFileStatus? {
        var st = nfs_stat_64()
        do {
            try perform("stat", path) { nfs_stat64($0, Self.mountPath(path), &st) }
        } catch let e as NFSError where e.errno == ENOENT || e.errno == ENOTDIR {
            return nil
        }
        return NFSFileStatus(size: st.nfs_size, allocated: st.nfs_used, inode: st.nfs_ino,
                             isDirectory: UInt32(st.nfs_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR),
                             modificationTime: Int64(st.nfs_mtime))
    }

    /// Total and available bytes of the exported file system.
    public func spaceUsage(_ path: String = "/") throws -> (total: UInt64, available: UInt64) {
        var s = nfs_statvfs_64()
        try perform("statvfs", path) { nfs_statvfs64($0, Self.mountPath(path), &s) }
        let unit = s.f_frsize > 0 ? s.f_frsize : s.f_bsize
        return (s.f_blocks * unit, s.f_bavail * unit)
    }

    /// mkdir; an existing directory is fine when `existingOK`.
    public func makeDirectory(_ path: String, mode: Int32 = 0o755, existingOK: Bool = true) throws {
        do {
            try perform("mkdir", path) { nfs_mkdir2($0, Self.mountPath(path), mode) }
        } catch let e as NFSError where e.errno == EEXIST && existingOK {}
    }

    /// rmdir; a missing directory is fine.
    public func removeDirectory(_ path: String) throws {
        do { try perform("rmdir", path) { nfs_rmdir($0, Self.mountPath(path)) } } catch let e as NFSError where e.errno == ENOENT {}
    }

    /// unlink; a missing file is fine (steps are idempotent, and a retried unlink may
    /// find its first attempt already done).
    public func remove(_ path: String) throws {
        do { try perform("unlink", path) { nfs_unlink($0, Self.mountPath(path)) } } catch let e as NFSError where e.errno == ENOENT {}
    }

    /// Atomically replaces `to` with `from` (RENAME is atomic on the server).
    public func rename(_ from: String, to: String) throws {
        try perform("rename", from) { nfs_rename($0, Self.mountPath(from), Self.mountPath(to)) }
    }

    /// A hard link: `to` becomes a second name of `from`.
    public func link(_ from: String, to: String) throws {
        try perform("link", from) { nfs_link($0, Self.mountPath(from), Self.mountPath(to)) }
    }

    /// Sets a file's size.
    public func truncate(_ path: String, size: UInt64) throws {
        try perform("truncate", path) { nfs_truncate($0, Self.mountPath(path), size) }
    }

    /// The names in a directory, sorted, without `.` and `..`.
    public func listDirectory(_ path: String) throws -> [String] {
        var dir: OpaquePointer?
        try perform("opendir", path) { nfs_opendir($0, Self.mountPath(path), &dir) }
        guard let dir else { return [] }
        defer { nfs_closedir(context, dir) }
        var names: [String] = []
        while let entry = nfs_readdir(context, dir) {
            let name = String(cString: entry.pointee.name)
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Reads a whole small file.
    public func readFile(_ path: String, limit: Int = NFSLimits.smallFileBytesMax) throws -> [UInt8] {
        let handle = try openHandle(path, flags: O_RDONLY)
        defer { closeHandle(handle) }
        var st = nfs_stat_64()
        try perform("fstat", path) { nfs_fstat64($0, handle, &st) }
        guard st.nfs_size <= UInt64(limit) else {
            throw NFSError.call(operation: "read", url: url(path), errno: EFBIG, detail: "larger than \(limit) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.nfs_size))
        var done = 0
        while done < bytes.count {
            let n = try bytes.withUnsafeMutableBytes { raw in
                try perform("read", path) {
                    nfs_pread($0, handle, UInt64(done), UInt64(min(raw.count - done, readPieceMax)), raw.baseAddress! + done)
                }
            }
            if n == 0 { break }
            done += Int(n)
        }
        return Array(bytes[0..<done])
    }

    /// Writes a whole small file and makes it durable (COMMIT) before returning. With
    /// `exclusive` the file must not exist (a GUARDED/EXCLUSIVE create on the server).
    public func writeFile(_ path: String, _ bytes: [UInt8], exclusive: Bool = false) throws {
        let flags = O_WRONLY | O_CREAT | (exclusive ? O_EXCL : O_TRUNC)
        var handle: OpaquePointer?
        try perform("create", path) { nfs_create($0, Self.mountPath(path), flags, 0o644, &handle) }
        guard let handle else { throw NFSError.call(operation: "create", url: url(path), errno: EIO, detail: "no file handle") }
        defer { closeHandle(handle) }
        var done = 0
        while done < bytes.count {
            let n = try bytes.withUnsafeBytes { raw in
                try perform("write", path) {
                    nfs_pwrite($0, handle, UInt64(done), UInt64(min(raw.count - done, writePieceMax)),
                               UnsafeMutableRawPointer(mutating: raw.baseAddress! + done))
                }
            }
            guard n > 0 else { throw NFSError.call(operation: "write", url: url(path), errno: EIO, detail: "wrote nothing") }
            done += Int(n)
        }
        try perform("commit", path) { nfs_fsync($0, handle) }
    }

    /// Replaces `path` so that a crash leaves the old or the new content: write a
    /// temporary beside it, commit it, rename it over (atomic on the server).
    public func writeAtomically(_ path: String, _ bytes: [UInt8], temporarySuffix: String) throws {
        let tmp = path + ".tmp." + temporarySuffix
        do {
            try writeFile(tmp, bytes)
            try rename(tmp, to: path)
        } catch {
            try? remove(tmp)
            throw error
        }
    }

    func openHandle(_ path: String, flags: Int32) throws -> OpaquePointer {
        var handle: OpaquePointer?
        try perform("open", path) { nfs_open($0, Self.mountPath(path), flags, &handle) }
        guard let handle else { throw NFSError.call(operation: "open", url: url(path), errno: EIO, detail: "no file handle") }
        return handle
    }

    /// Closes once, without retries: libnfs frees the handle whatever the outcome.
    func closeHandle(_ handle: OpaquePointer) {
        servicing = true
        _ = nfs_close(context, handle)
        servicing = false
        afterSynchronousCall()
    }
}
