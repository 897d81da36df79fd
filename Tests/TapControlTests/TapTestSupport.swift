import DataPath
import Foundation
import Glibc
import ImageFormats
import NBDClient
import StorageIO
import TapControl
import TestSupport
import Testing

/// The built daemon and CLI next to the tests; tests that need them are disabled without.
enum Built {
    static let tapdisk: String? = productsDirectory(containing: "sm-tapdisk").map { $0 + "/sm-tapdisk" }
    static let smCLI: String? = productsDirectory(containing: "sm-cli").map { $0 + "/sm-cli" }
    static var both: Bool { tapdisk != nil && smCLI != nil }
}

/// A dynamic VHD of `mib` MiB made by qemu-img (our daemon must serve what qemu writes).
func makeVHD(_ path: String, mib: Int) throws {
    let r = try runTool("qemu-img", ["create", "-q", "-f", "vpc", "-o", "subformat=dynamic", path, "\(mib)M"])
    try #require(r.status == 0, "qemu-img create: \(r.output)")
}

/// A daemon started through the launcher in a temporary run directory, stopped (by its own
/// pid, SIGKILL if need be) when the value goes.
final class TestDaemon {
    let dir: TempDir
    let launcher: DataPathLauncher
    let image: String

    init(dir: TempDir, image: String, vdi: String = "vdi0", readOnly: Bool = false) throws {
        self.dir = dir
        self.image = image
        launcher = DataPathLauncher(runDirectory: dir.path + "/run", sr: "sr0", vdi: vdi)
        try launcher.start(tapdisk: try #require(Built.tapdisk), file: image, readOnly: readOnly)
    }

    var pid: pid_t? { launcher.runningPID() }
    var control: TapControlClient { launcher.control }

    func start() throws {
        try launcher.start(tapdisk: try #require(Built.tapdisk), file: image, readOnly: false)
    }

    func kill9() {
        guard let pid else { return }
        kill(pid, SIGKILL)
        while DataPathLauncher.isAlive(pid) { usleep(1000) }
    }

    deinit {
        if let pid { kill(pid, SIGKILL) }
    }
}

/// A fresh VHD served by a daemon, and a client connected to it on this thread's loop.
final class ServedVHD {
    let dir = TempDir(prefix: "tapctl")
    let image: String
    let daemon: TestDaemon
    let loop: EventLoop
    let client: NBDClientStore

    init(mib: Int = 16) throws {
        image = dir.file("a.vhd")
        try makeVHD(image, mib: mib)
        daemon = try TestDaemon(dir: dir, image: image)
        loop = try EventLoop()
        client = try NBDClientStore(uri: daemon.launcher.nbdURI, on: loop)
    }

    var control: TapControlClient { daemon.control }
}

/// Page-aligned buffers for NBD I/O, freed with the value.
final class AlignedBuffer {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(_ count: Int) {
        self.count = count
        pointer = .allocate(byteCount: count, alignment: 4096)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: count)
    }

    deinit { pointer.deallocate() }

    var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
    var mutableRaw: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: pointer, count: count) }
    var bytes: [UInt8] { Array(raw) }

    /// Fills every 8 bytes with `tag` mixed with the word's index: each block and
    /// generation has its own content.
    func fill(tag: UInt64) {
        let words = pointer.bindMemory(to: UInt64.self, capacity: count / 8)
        for i in 0..<count / 8 { words[i] = tag &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(i) }
    }
}

/// The tag whose `fill` starts with `word` (the multiplier is odd, so it has an inverse).
func tag(ofFirstWord word: UInt64) -> UInt64 {
    let c: UInt64 = 0x9E37_79B9_7F4A_7C15
    var inverse = c
    for _ in 0..<5 { inverse = inverse &* (2 &- c &* inverse) }
    return word &* inverse
}

/// The content `AlignedBuffer.fill(tag:)` writes, for comparisons.
func pattern(tag: UInt64, count: Int) -> [UInt8] {
    let b = AlignedBuffer(count)
    b.fill(tag: tag)
    return b.bytes
}

/// Runs `body` on another thread; `wait()` returns its result. Lets a test drive its own
/// event loop while a blocking call (a control request, a CLI run) proceeds.
final class Background<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, any Error>?
    private let lock = NSLock()

    init(_ body: @escaping @Sendable () throws -> T) {
        Thread.detachNewThread { [self] in
            let r = Result { try body() }
            lock.withLock { result = r }
            done.signal()
        }
    }

    var isDone: Bool { lock.withLock { result != nil } }

    func wait() throws -> T {
        done.wait()
        done.signal()
        return try lock.withLock { result! }.get()
    }
}

/// Runs `loop` until `condition` holds or `seconds` pass; whether it held.
@discardableResult
func runLoop(_ loop: EventLoop, seconds: Double, until condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() > deadline { return false }
        loop.runOnce(timeoutNanoseconds: 5_000_000)
    }
    return true
}

/// Runs a blocking call (a control request) on another thread while this thread keeps
/// `loop` turning, so the client's requests on it make progress meanwhile.
@discardableResult
func whileDriving<T>(_ loop: EventLoop, seconds: Double = 30, _ body: @escaping @Sendable () throws -> T) throws -> T {
    let call = Background(body)
    #expect(runLoop(loop, seconds: seconds) { call.isDone }, "the call did not return within \(seconds) s")
    return try call.wait()
}

/// Reads a whole image through our chain code (VHD and its parents) and checks it.
func readImage(_ path: String, bytes: Int) throws -> (data: [UInt8], clean: Bool, report: String) {
    let loop = try EventLoop()
    let chain = try ImageChain.open(path, on: loop, readOnly: true)
    defer { try? chain.close() }
    let buffer = AlignedBuffer(bytes)
    try chain.read(into: buffer.mutableRaw, at: 0)
    let report = chain.check()
    return (buffer.bytes, report.isClean, report.description)
}

/// Our own check of an image and its chain.
enum ImageCheck {
    static func isClean(_ path: String) -> Bool {
        guard let loop = try? EventLoop(), let chain = try? ImageChain.open(path, on: loop, readOnly: true) else { return false }
        defer { try? chain.close() }
        let report = chain.check()
        if !report.isClean { print("check \(path): \(report)") }
        return report.isClean
    }
}
