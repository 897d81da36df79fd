import Glibc

/// Opens local files and block devices as BlockIO stores on an event loop, choosing the
/// fastest engine that works here.
public enum LocalFile {
    public struct Options: Sendable {
        public var readOnly = false
        /// Create the file (empty) when it does not exist.
        public var create = false
        /// Bypass the page cache (O_DIRECT) where the filesystem allows it.
        public var direct = true
        /// Force an engine; nil means `SM_IO_ENGINE`, else automatic.
        public var engine: IOEngine?

        public init(readOnly: Bool = false, create: Bool = false, direct: Bool = true, engine: IOEngine? = nil) {
            self.readOnly = readOnly
            self.create = create
            self.direct = direct
            self.engine = engine
        }
    }

    /// Opens `path` on `loop`. Automatic choice: io_uring when the loop has a ring; else
    /// libaio for O_DIRECT files; else the thread pool. A forced engine that cannot run here
    /// is an error, not a silent fallback.
    public static func open(_ path: String, on loop: EventLoop, options: Options = Options()) throws -> LocalFileStore {
        try open(path, on: loop, options: options) {
            try OpenedFile.open(path: path, readOnly: options.readOnly, create: options.create, direct: options.direct)
        }
    }

    static func open(_ path: String, on loop: EventLoop, options: Options,
                     opening: () throws -> OpenedFile) throws -> LocalFileStore {
        let forced = try options.engine ?? IOEngine.fromEnvironment()
        if forced == .uring && loop.driver != .uring {
            throw BlockIOError.engineUnavailable(engine: "uring", reason: "the event loop runs on \(loop.driver)")
        }
        let file = try opening()
        do {
            let store = try makeStore(file, loop: loop, forced: forced)
            let mode = file.isDirect ? "O_DIRECT, alignment \(file.alignment)" : "buffered"
            IOEngineLog.note("block I/O engine: \(store.engine) (\(mode)) on an \(loop.driver) loop")
            return store
        } catch {
            Glibc.close(file.fd)
            throw error
        }
    }

    private static func makeStore(_ file: OpenedFile, loop: EventLoop, forced: IOEngine?) throws -> LocalFileStore {
        switch forced {
        case .uring:
            return UringFileStore(file: file, loop: loop)
        case .aio:
            return try AIOFileStore(file: file, loop: loop)
        case .threads:
            return try ThreadPoolFileStore(file: file, loop: loop)
        case nil:
            if loop.driver == .uring { return UringFileStore(file: file, loop: loop) }
            if file.isDirect {
                do { return try AIOFileStore(file: file, loop: loop) } catch {
                    IOEngineLog.note("libaio unavailable (\(error)); using the thread pool")
                }
            }
            return try ThreadPoolFileStore(file: file, loop: loop)
        }
    }
}
