import Glibc

/// The few POSIX file operations the engine needs, each throwing `SREngineError.system`
/// with the path, and the durable-rename sequence metadata relies on.
enum FileSystem {
    static func fail(_ op: String, _ path: String) -> SREngineError { .system(operation: op, path: path, errno: errno) }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw fail("mkdir", path) }
    }

    /// mkdir -p.
    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            try makeDirectory(current)
        }
    }

    static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw fail("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func readFile(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("open", path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw fail("read", path) }
            if n == 0 { break }
            out += chunk[0..<n]
            guard out.count <= limit else {
                throw SREngineError.metadataCorrupt(path: path, detail: "larger than \(limit) bytes")
            }
        }
        return out
    }

    /// Replaces `path` with `bytes` so that after a crash at any instant the file holds either
    /// the old or the new content: write a temporary, fsync it, rename it over, fsync the dir.
    static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        let tmp = "\(path).tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("open", tmp) }
        var ok = false
        defer { if !ok { unlink(tmp) } }
        do {
            defer { close(fd) }
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 { if errno == EINTR { continue }; throw fail("write", tmp) }
                done += n
            }
            guard fsync(fd) == 0 else { throw fail("fsync", tmp) }
        }
        guard Glibc.rename(tmp, path) == 0 else { throw fail("rename", tmp) }
        ok = true
        try syncDirectory(dirname(path))
    }

    /// fsync of a directory: makes creations, renames and unlinks in it durable.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw fail("fsync", path) }
    }

    /// unlink that treats a missing file as done (steps must be idempotent).
    static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw fail("unlink", path) }
    }

    static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 { throw fail("rename", from) }
    }

    /// A hard link; an existing `to` is an error (EEXIST) for the caller to judge.
    static func link(_ from: String, _ to: String) throws {
        if Glibc.link(from, to) != 0 { throw fail("link", to) }
    }

    static func removeTree(_ path: String) throws {
        guard isDirectory(path) else { try remove(path); return }
        for name in try listDirectory(path) { try removeTree(path + "/" + name) }
        if rmdir(path) != 0 && errno != ENOENT { throw fail("rmdir", path) }
    }

    /// Size, allocated bytes and inode of a file; nil when it does not exist.
    static func usage(_ path: String) -> (size: UInt64, allocated: UInt64, inode: UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_size), UInt64(st.st_blocks) * 512, UInt64(st.st_ino))
    }

    static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return normalize(path) }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX))
        let cwd = getcwd(&buf, buf.count).map { String(cString: $0) } ?? "/"
        return normalize(cwd + "/" + path)
    }

    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for p in path.split(separator: "/") {
            if p == "." || p.isEmpty { continue }
            if p == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(p)
        }
        return "/" + parts.joined(separator: "/")
    }
}
