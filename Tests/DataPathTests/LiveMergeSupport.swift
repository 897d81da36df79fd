import DataPath
import Foundation
import Glibc
import ImageFormats
import NBD
import StorageIO

/// Fills `buffer` with bytes that depend on `seed` and on each 8-byte word's position, fast
/// enough for hundreds of MiB in a debug build.
func fillWords(_ buffer: UnsafeMutableRawBufferPointer, seed: UInt64) {
    let words = buffer.bindMemory(to: UInt64.self)
    var x = (seed &+ 1) &* 0x9E37_79B9_7F4A_7C15
    for i in words.indices {
        x = x &+ 0x9E37_79B9_7F4A_7C15
        words[i] = x ^ (x >> 29)
    }
}

/// A chain [P (dynamic VHD), L (differencing over P)] on disk, and the bytes its leaf's view
/// holds (the reference model the tests compare against).
struct MergeFixture {
    let parentPath: String
    let leafPath: String
    var model: [UInt8]
    var size: Int { model.count }

    /// Writes `parentWrites` into P and `leafWrites` into L, each (offset, length) filled with
    /// distinct words, and records them in the model.
    static func make(_ dir: ScratchDirectory, size: UInt64, parentWrites: [(UInt64, Int)],
                     leafWrites: [(UInt64, Int)]) throws -> MergeFixture {
        let loop = try EventLoop()
        let parentPath = dir.file("parent.vhd"), leafPath = dir.file("leaf.vhd")
        let pStore = try LocalFile.open(parentPath, on: loop, options: .init(create: true))
        let footer = try VHDCreate.dynamic(on: pStore, size: size)
        var fixture = MergeFixture(parentPath: parentPath, leafPath: leafPath,
                                   model: [UInt8](repeating: 0, count: Int(footer.currentSize)))
        let parent = try VHDImage.open(pStore)
        var seed: UInt64 = 1
        try fixture.apply(parentWrites, to: parent, seed: &seed)
        try parent.close()
        let lStore = try LocalFile.open(leafPath, on: loop, options: .init(create: true))
        try VHDCreate.differencing(on: lStore, childPath: leafPath, parentPath: parentPath, parent: footer)
        let leaf = try VHDImage.open(lStore)
        try fixture.apply(leafWrites, to: leaf, seed: &seed)
        try leaf.close()
        return fixture
    }

    private mutating func apply(_ writes: [(UInt64, Int)], to image: VHDImage, seed: inout UInt64) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        for (offset, length) in writes {
            var done = 0
            while done < length {
                let n = min(buffer.count, length - done)
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
                fillWords(chunk, seed: seed)
                seed += 1
                try image.write(UnsafeRawBufferPointer(chunk), at: VirtualOffset(offset + UInt64(done)))
                record(UnsafeRawBufferPointer(chunk), at: Int(offset) + done)
                done += n
            }
        }
    }

    mutating func record(_ data: UnsafeRawBufferPointer, at offset: Int) {
        model.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: offset).copyMemory(from: data.baseAddress!, byteCount: data.count) }
    }

    /// The first offset where `image`'s content differs from the model, or nil.
    func firstDifference(_ image: any DiskImage) throws -> Int? {
        let chunk = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var at = 0
        while at < size {
            let n = min(chunk, size - at)
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
            try image.read(into: slice, at: VirtualOffset(UInt64(at)))
            let differs = model.withUnsafeBytes { memcmp($0.baseAddress! + at, slice.baseAddress!, n) != 0 }
            if differs {
                for i in 0..<n where slice[i] != model[at + i] { return at + i }
            }
            at += n
        }
        return nil
    }

    /// Opens the parent alone (a dynamic VHD: after a merge it is the whole disk) and
    /// compares it with the model; also returns its check report.
    func parentDifference() throws -> (Int?, CheckReport) {
        let loop = try EventLoop()
        let image = try VHDImage.open(try LocalFile.open(parentPath, on: loop, options: .init(readOnly: true)), readOnly: true)
        defer { try? image.close() }
        return (try firstDifference(image), image.check())
    }

    /// Opens the chain [L, P] and compares its view with the model.
    func chainDifference() throws -> (Int?, CheckReport) {
        let loop = try EventLoop()
        let chain = try ImageChain.open(leafPath, on: loop, readOnly: true)
        defer { try? chain.close() }
        return (try firstDifference(chain), chain.check())
    }

    /// Writes the model to a raw file (the flattened copy for qemu-img compare).
    func writeFlat(_ path: String) {
        precondition(FileManager.default.createFile(atPath: path, contents: Data(model)), "cannot write \(path)")
    }
}

/// Runs closures on a server's loop thread when a test thread asks: a pipe the loop watches.
final class LoopCommands: @unchecked Sendable {
    private let readFD: Int32
    private let writeFD: Int32
    private var watch: FDWatch?
    /// Set on the loop thread (in the harness's setup), before any `fire`.
    private var handlers: [UInt8: () -> Void] = [:]
    private let done = DispatchSemaphore(value: 0)

    init() {
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0, "pipe failed")
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    /// On the loop thread: watches the pipe and serves `handlers`.
    func attach(to loop: EventLoop, _ handlers: [UInt8: () -> Void]) {
        self.handlers = handlers
        let fd = readFD
        watch = loop.watch(fd: fd, events: .readable) { [unowned self] _ in
            var code: UInt8 = 0
            guard read(fd, &code, 1) == 1 else { return }
            self.handlers[code]?()
            self.done.signal()
        }
    }

    /// On the loop thread, after the server stopped.
    func detach() {
        watch?.cancel()
        watch = nil
        handlers = [:]
    }

    /// Runs handler `code` on the loop thread and waits (bounded) until it has run.
    @discardableResult
    func fire(_ code: UInt8, timeout: Double = 10) -> Bool {
        var c = code
        precondition(write(writeFD, &c, 1) == 1, "command pipe write failed")
        return done.wait(timeout: .now() + timeout) == .success
    }
}

/// Polls `condition` every few milliseconds until it holds or `seconds` pass.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

/// A client that keeps `depth` random 4 KiB writes in flight through a real NBD connection
/// (never two overlapping ones at once, so the model knows the final content) and records
/// every acknowledged write in a model. Runs on its own thread until `stop()`.
final class PipelinedWriter: @unchecked Sendable {
    let depth: Int
    let region: Range<UInt64>
    private let client: RawClient
    private let stopFlag = Box(false)
    private let finished = DispatchSemaphore(value: 0)
    let acknowledged = Box(0)
    let failure = Box<String?>(nil)
    /// (offset, seed) of every acknowledged write, in order of acknowledgement.
    private(set) var log: [(UInt64, UInt64)] = []
    static let blockBytes = 4096

    init(socketPath: String, depth: Int, region: Range<UInt64>) throws {
        self.depth = depth
        self.region = region
        client = try RawClient(path: socketPath, timeout: 30)
        try client.handshake()
    }

    func start(seed: UInt64) {
        Thread { [self] in
            do { try run(seed: seed) } catch { failure.set("\(error)") }
            finished.signal()
        }.start()
    }

    /// Stops issuing, waits for the writes in flight, returns when the writer is done.
    func stop() {
        stopFlag.set(true)
        _ = finished.wait(timeout: .now() + 30)
    }

    private func run(seed: UInt64) throws {
        var rng = seed | 1
        func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
        let units = (region.upperBound - region.lowerBound) / UInt64(Self.blockBytes)
        var inflight: [UInt64: UInt64] = [:]  // cookie -> offset
        var busy: Set<UInt64> = []
        var payload = [UInt8](repeating: 0, count: Self.blockBytes)
        var seeds: [UInt64: UInt64] = [:]
        var cookie: UInt64 = 100
        while true {
            while inflight.count < depth && !stopFlag.get() {
                var offset: UInt64
                repeat { offset = region.lowerBound + (next() % units) * UInt64(Self.blockBytes) } while busy.contains(offset)
                cookie += 1
                let dataSeed = cookie &* 7919
                payload.withUnsafeMutableBytes { fillWords($0, seed: dataSeed) }
                try client.request(NBDRequestHeader(.write, cookie: cookie, offset: offset, length: UInt32(Self.blockBytes)),
                                   payload: payload)
                inflight[cookie] = offset
                seeds[cookie] = dataSeed
                busy.insert(offset)
            }
            if inflight.isEmpty { return }
            let reply = try client.reply()
            guard let offset = inflight.removeValue(forKey: reply.cookie) else { throw HarnessError("unknown cookie \(reply.cookie)") }
            busy.remove(offset)
            guard reply.error == 0 else { throw HarnessError("write at \(offset) failed: NBD error \(reply.error)") }
            log.append((offset, seeds.removeValue(forKey: reply.cookie)!))
            acknowledged.set(acknowledged.get() + 1)
        }
    }

    /// Applies every acknowledged write to `fixture`'s model (after `stop`).
    func apply(to fixture: inout MergeFixture) {
        var data = [UInt8](repeating: 0, count: Self.blockBytes)
        for (offset, seed) in log {
            data.withUnsafeMutableBytes { fillWords($0, seed: seed) }
            data.withUnsafeBytes { fixture.record($0, at: Int(offset)) }
        }
    }
}

/// A store that forwards to another, except requests `hold` picks while armed: those wait
/// until `release()` (called on the loop thread). Counts what it holds for the test thread.
class HoldingStore: BlockIO {
    let inner: any BlockIO
    var armed = false
    let hold: (IORequest) -> Bool
    private var held: [IORequest] = []
    let heldCount = Box(0)
    private var spare: [IORequest] = []

    init(_ inner: any BlockIO, hold: @escaping (IORequest) -> Bool) {
        self.inner = inner
        self.hold = hold
    }

    var name: String { inner.name }
    var capabilities: BlockIOCapabilities { inner.capabilities }
    var size: UInt64 { inner.size }
    var isClosed: Bool { inner.isClosed }
    var loop: EventLoop { inner.loop }
    func resize(to newSize: UInt64) throws { try inner.resize(to: newSize) }
    func close() { inner.close() }

    func submit(_ request: IORequest) {
        request.begin()
        if armed && hold(request) {
            held.append(request)
            heldCount.set(heldCount.get() + 1)
            loop.externalPending += 1  // a held request is still work a nested wait may await
            return
        }
        forward(request)
    }

    /// Disarms and lets every held request go on.
    func release() {
        armed = false
        let requests = held
        held.removeAll()
        loop.externalPending -= requests.count
        requests.forEach(forward)
    }

    private func forward(_ request: IORequest) {
        let child = spare.popLast() ?? IORequest()
        child.onComplete = { [unowned self] child in
            self.spare.append(child)
            request.finish(result: child.result, failure: child.failure)
        }
        child.operation = request.operation
        child.buffer = request.buffer
        child.length = request.length
        child.offset = request.offset
        child.fua = request.fua
        inner.submit(child)
    }
}

/// A store whose writes fail with EIO once `failing` is set (or after `goodWrites` writes).
final class FailingStore: HoldingStore {
    var failing = false
    var goodWrites: Int?
    let failedCount = Box(0)

    init(_ inner: any BlockIO, goodWrites: Int? = nil) {
        self.goodWrites = goodWrites
        super.init(inner) { _ in false }
    }

    override func submit(_ request: IORequest) {
        if request.operation == .write {
            if let n = goodWrites {
                if n == 0 { failing = true } else { goodWrites = n - 1 }
            }
            if failing {
                request.begin()
                failedCount.set(failedCount.get() + 1)
                loop.post(request, result: -EIO, failure: .io(store: name, operation: .write, offset: request.offset,
                                                              length: UInt64(request.length), errno: EIO))
                return
            }
        }
        super.submit(request)
    }
}
