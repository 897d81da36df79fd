import CSandbox
import Foundation
import StorageIO
import Testing

/// Under a seccomp profile that refuses io_uring_setup (EPERM), the loop falls back to epoll
/// and files to libaio, without the caller doing anything.
@Suite("Fallback when io_uring is refused")
struct SandboxFallbackTests {
    @Test("EPERM from io_uring_setup: epoll loop, libaio engine, data intact")
    func seccompRefusesIoUring() throws {
        let dir = try ScratchDirectory()
        let path = dir.file("disk.img")
        FileManager.default.createFile(atPath: path, contents: nil)
        truncate(path, 1 << 20)
        // The filter binds one thread for good, so the whole scenario runs on a thread of its own.
        let outcome = OnThread.run { () -> Result<(EventLoop.Driver, IOEngine, Bool), Error> in
            let rc = csandbox_deny_io_uring_on_this_thread()
            guard rc == 0 else { return .failure(BlockIOError.engineUnavailable(engine: "seccomp", reason: "\(rc)")) }
            return Result {
                #expect(throws: BlockIOError.self) { _ = try EventLoop(driver: .uring) }
                let loop = try EventLoop()
                let store = try LocalFile.open(path, on: loop)
                defer { store.close() }
                return (loop.driver, store.engine, try roundTrips(store, at: 4096, fill: 0x42))
            }
        }
        let (driver, engine, intact) = try outcome.get()
        #expect(driver == .epoll)
        #expect(engine == .aio)
        #expect(intact)
    }
}

/// Runs a closure on a fresh thread and waits for its result.
enum OnThread {
    private final class Box<T>: @unchecked Sendable {
        var value: T?
        var body: (() -> T)?
    }

    static func run<T>(_ body: @escaping () -> T) -> T {
        let box = Box<T>()
        box.body = body
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { box.value = box.body!(); done.signal() }
        thread.start()
        done.wait()
        return box.value!
    }
}
