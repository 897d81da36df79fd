import DataPath
import Foundation
import Glibc
import ImageFormats
import Logging
import NBD
import StorageIO

/// A scratch directory on the real filesystem (O_DIRECT works there), removed afterwards.
final class ScratchDirectory: @unchecked Sendable {
    let path: String

    init() throws {
        // Short base: a Unix socket path must fit in 107 bytes.
        path = "/tmp/dp-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Deterministic bytes that differ per offset, so misplaced data is caught.
func pattern(count: Int, seed: UInt64) -> [UInt8] {
    var x = (seed &+ 1) &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        return UInt8(truncatingIfNeeded: x)
    }
}

/// Writes `bytes` to a new file at `path`.
func writeFile(_ path: String, _ bytes: [UInt8]) {
    precondition(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "cannot write \(path)")
}

/// Thread-safe box to carry results out of the server thread.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
}

/// Runs an NBD server on its own thread, with its own loop, on a Unix socket in a scratch
/// directory. Everything on the loop (stores, backends) is made by `setup` on that thread;
/// `teardown` runs there after the server stopped (to inspect a simulated disk).
final class ServerHarness: @unchecked Sendable {
    let directory: ScratchDirectory
    let socketPath: String
    let exportName: String
    private let ready = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let stopHandle = Box<NBDServerStopHandle?>(nil)
    let failure = Box<String?>(nil)
    let acceptedCount = Box(0)

    init(exportName: String = "vdi", directory: ScratchDirectory? = nil,
         configuration: NBDServerConfiguration = NBDServerConfiguration(),
         driver: EventLoop.Driver? = nil,
         setup: @escaping @Sendable (EventLoop) throws -> [ServedExport],
         teardown: (@Sendable () -> Void)? = nil) throws {
        self.directory = try directory ?? ScratchDirectory()
        self.socketPath = self.directory.file("nbd.sock")
        self.exportName = exportName
        let socketPath = self.socketPath
        let thread = Thread { [self] in
            do {
                let loop = try EventLoop(driver: driver)
                let exports = try setup(loop)
                var logger = Logger(label: "test.nbd")
                logger.logLevel = .error
                let server = try NBDServer(loop: loop, exports: exports, configuration: configuration, logger: logger)
                try server.listen(unixPath: socketPath)
                stopHandle.set(server.stopHandle)
                ready.signal()
                server.run()
                acceptedCount.set(server.acceptedCount)
                teardown?()
                for export in exports { try export.backend.close() }
            } catch {
                failure.set("\(error)")
                ready.signal()
            }
            finished.signal()
        }
        thread.start()
        guard ready.wait(timeout: .now() + 10) == .success else { throw HarnessError("server did not start") }
        if let f = failure.get() { throw HarnessError("server failed to start: \(f)") }
    }

    var uri: String { "nbd+unix:///\(exportName)?socket=\(socketPath)" }

    /// Stops the server and waits (bounded) for its thread to finish.
    func stop() {
        guard !stopped.get() else { return }
        stopped.set(true)
        stopHandle.get()?.stop()
        _ = finished.wait(timeout: .now() + 15)
    }
    private let stopped = Box(false)
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs an external tool with a time limit; nil when the tool is not installed.
struct ToolResult {
    var status: Int32
    var output: String
}

func toolPath(_ name: String) -> String? {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
        return dir + "/" + name
    }
    return nil
}

func runTool(_ name: String, _ arguments: [String], timeout: TimeInterval = 20) throws -> ToolResult? {
    guard let path = toolPath(name) else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let outputBox = Box(Data())
    let drained = DispatchSemaphore(value: 0)
    let reader = Thread {
        outputBox.set(pipe.fileHandleForReading.readDataToEndOfFile())
        drained.signal()
    }
    try process.run()
    reader.start()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(5_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw HarnessError("\(name) timed out after \(timeout) s")
    }
    process.waitUntilExit()
    _ = drained.wait(timeout: .now() + 5)
    return ToolResult(status: process.terminationStatus, output: String(decoding: outputBox.get(), as: UTF8.self))
}

/// Byte equality that keeps failure messages short (an #expect on two arrays prints both).
func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool { a == b }

/// Makes `child` an empty differencing VHD over the VHD `base`, with the image library's own
/// creator, on a loop of the calling thread.
func makeDifferencingChild(_ child: String, over base: String) throws {
    let loop = try EventLoop()
    let parentStore = try LocalFile.open(base, on: loop, options: .init(readOnly: true))
    let footer = try VHDImage.open(parentStore, readOnly: true).footer
    parentStore.close()
    let childStore = try LocalFile.open(child, on: loop, options: .init(create: true))
    try VHDCreate.differencing(on: childStore, childPath: child, parentPath: base, parent: footer)
    try childStore.flush()
    childStore.close()
}
