import Glibc

/// lseek whence values for sparse files (Linux; not exported by Glibc's Swift overlay).
let seekData: Int32 = 3
let seekHole: Int32 = 4

/// A plain file read and written sparse-aware: its data ranges come from SEEK_DATA /
/// SEEK_HOLE, so holes are neither read nor written.
final class SparseFile {
    let path: String
    let fd: Int32

    init(reading path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError.file(path: path, detail: String(cString: strerror(errno))) }
    }

    /// Creates (truncating) a file of `size` bytes that is all hole.
    init(creating path: String, size: UInt64) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CLIError.file(path: path, detail: String(cString: strerror(errno))) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw fail("ftruncate") }
    }

    deinit { close(fd) }

    func fail(_ op: String) -> CLIError { CLIError.file(path: path, detail: "\(op): \(String(cString: strerror(errno)))") }

    var size: UInt64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_size) : 0
    }

    /// The ranges that hold data, in order (the whole file where SEEK_DATA is unsupported).
    func dataRanges() -> [Range<UInt64>] {
        let end = off_t(size)
        var out: [Range<UInt64>] = []
        var pos: off_t = 0
        while pos < end {
            let data = lseek(fd, pos, seekData)
            if data < 0 {
                if errno == ENXIO { break }
                return [0..<UInt64(end)]
            }
            var hole = lseek(fd, data, seekHole)
            if hole < 0 { hole = end }
            out.append(UInt64(data)..<UInt64(hole))
            pos = hole
        }
        return out
    }

    /// Reads `buffer.count` bytes at `offset`; past the end reads zeros.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 { if errno == EINTR { continue }; throw fail("read") }
            if n == 0 { break }
            done += n
        }
        if done < buffer.count { (buffer.baseAddress! + done).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - done) }
    }

    func write(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < data.count {
            let n = pwrite(fd, data.baseAddress! + done, data.count - done, off_t(offset) + off_t(done))
            if n < 0 { if errno == EINTR { continue }; throw fail("write") }
            done += n
        }
    }

    func sync() throws { guard fsync(fd) == 0 else { throw fail("fsync") } }
}

/// True when every byte is zero (such chunks are skipped: they stay holes).
func isAllZero(_ b: UnsafeRawBufferPointer) -> Bool {
    let words = b.count / 8
    let w = UnsafeRawBufferPointer(rebasing: b[0..<(words * 8)]).bindMemory(to: UInt64.self)
    for x in w where x != 0 { return false }
    for i in (words * 8)..<b.count where b[i] != 0 { return false }
    return true
}
