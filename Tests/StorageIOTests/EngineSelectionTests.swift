import Foundation
@testable import StorageIO
import CURing
import Glibc
import Testing

/// Automatic fallback and forced engines.
@Suite("Engine selection", .serialized)
struct EngineSelectionTests {
    @Test("an io_uring loop picks io_uring")
    func uringByDefault() throws {
        let dir = try ScratchDirectory()
        let store = try makeStore(dir, size: 1 << 20, engine: nil, driver: .uring)
        defer { store.close() }
        #expect(store.loop.driver == .uring)
        #expect(store.engine == .uring)
    }

    @Test("without io_uring: libaio for O_DIRECT files")
    func epollPicksAIO() throws {
        let dir = try ScratchDirectory()
        let store = try makeStore(dir, size: 1 << 20, engine: nil, driver: .epoll)
        defer { store.close() }
        #expect(store.engine == .aio)
        try expectRoundTrip(store, at: 4096, fill: 5)
    }

    /// tmpfs refused O_DIRECT before Linux 6.6; newer kernels accept it, so the refusal is
    /// played by an open(2) that answers EINVAL to O_DIRECT, as such a filesystem does.
    @Test("O_DIRECT refused: buffered, alignment 1, uring or else the thread pool")
    func directRefusedFallsBackToBuffered() throws {
        let dir = try ScratchDirectory()
        for driver in EventLoop.Driver.allCases {
            let path = dir.file("d-\(driver).img")
            FileManager.default.createFile(atPath: path, contents: nil)
            truncate(path, 1 << 20)
            let loop = try EventLoop(driver: driver)
            let store = try LocalFile.open(path, on: loop, options: .init()) {
                try OpenedFile.open(path: path, readOnly: false, create: false, direct: true) { path, flags in
                    if flags & CUR_O_DIRECT != 0 { errno = EINVAL; return -1 }
                    return Glibc.open(path, flags, 0o600)
                }
            }
            defer { store.close() }
            #expect(!store.isDirect)
            #expect(store.capabilities.alignment == 1)
            #expect(store.engine == (driver == .uring ? .uring : .threads))
            let bytes: [UInt8] = Array("unaligned is fine without O_DIRECT".utf8)
            try bytes.withUnsafeBytes { try store.write($0, at: 3) }
            var back = [UInt8](repeating: 0, count: bytes.count)
            try back.withUnsafeMutableBytes { try store.read(into: $0, at: 3) }
            #expect(back == bytes)
        }
    }

    @Test("a file on tmpfs works whatever the kernel says about O_DIRECT there",
          .enabled(if: FileManager.default.fileExists(atPath: "/dev/shm")))
    func tmpfs() throws {
        let dir = try ScratchDirectory(on: "/dev/shm")
        let store = try makeStore(dir, size: 1 << 20, engine: nil)
        defer { store.close() }
        try expectRoundTrip(store, at: 0, fill: 9)
    }

    @Test("forcing io_uring on a loop without a ring is an error")
    func forcedUringNeedsRing() throws {
        let dir = try ScratchDirectory()
        #expect(throws: BlockIOError.engineUnavailable(engine: "uring", reason: "the event loop runs on epoll")) {
            _ = try makeStore(dir, size: 1 << 20, engine: .uring, driver: .epoll)
        }
    }

    @Test("SM_IO_ENGINE values: auto, each engine, and a clear error for anything else")
    func environmentOverride() throws {
        #expect(try IOEngine.override(nil) == nil)
        #expect(try IOEngine.override("auto") == nil)
        for engine in IOEngine.allCases { #expect(try IOEngine.override(engine.rawValue) == engine) }
        let error = #expect(throws: BlockIOError.self) { _ = try IOEngine.override("spdk") }
        #expect(error?.description.contains("SM_IO_ENGINE") == true)
    }
}
