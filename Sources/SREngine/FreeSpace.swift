import Glibc

/// Size and free space of the filesystem under an SR, as statvfs reports them for an
/// unprivileged writer (f_bavail).
public struct FreeSpace: Sendable, Equatable {
    public var totalBytes: UInt64
    public var freeBytes: UInt64

    public init(totalBytes: UInt64, freeBytes: UInt64) {
        self.totalBytes = totalBytes
        self.freeBytes = freeBytes
    }
}

/// Where the engine learns free space. Injectable so tests (and the CLI's test hook
/// `SM_FAKE_FREE_BYTES`) can play a nearly full filesystem without making one.
public struct FreeSpaceProbe: Sendable {
    public let measure: @Sendable (_ directory: String) throws -> FreeSpace

    public init(_ measure: @escaping @Sendable (_ directory: String) throws -> FreeSpace) {
        self.measure = measure
    }

    /// statvfs on the directory.
    public static let statvfs = FreeSpaceProbe { directory in try measureFilesystem(directory) }

    /// The real filesystem's total, but at most `freeBytes` free.
    public static func capped(freeBytes: UInt64) -> FreeSpaceProbe {
        FreeSpaceProbe { directory in
            var real = try FreeSpaceProbe.statvfs.measure(directory)
            real.freeBytes = min(real.freeBytes, freeBytes)
            return real
        }
    }
}

/// statvfs(2) of the filesystem holding `directory`.
func measureFilesystem(_ directory: String) throws -> FreeSpace {
    var s = statvfs()
    guard statvfs(directory, &s) == 0 else {
        throw SREngineError.system(operation: "statvfs", path: directory, errno: errno)
    }
    let unit = UInt64(s.f_frsize)
    return FreeSpace(totalBytes: UInt64(s.f_blocks) * unit, freeBytes: UInt64(s.f_bavail) * unit)
}
