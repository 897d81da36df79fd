import Foundation
import Glibc
import NBDClient
@testable import NFSStore
import StorageIO
import Testing
import TestSupport

/// Faults against a real server: one that dies gives a clear error within the soft-mount
/// bound; one that restarts mid-I/O loses nothing that was flushed, with the data path
/// (sm-tapdisk serving an NFS-backed VHD over NBD) in between.
extension NFSServerTests {
@Suite struct NFSFaultTests {
    @Test func deadServerFailsWithinTheConfiguredTimeout() throws {
        let dir = TempDir(prefix: "nfs")
        let server = try GaneshaServer.start(in: dir.path)
        defer { server.stop() }
        let loop = try EventLoop()
        // timeo 0.5 s, retrans 1: every call ends within 1 s.
        let nfs = server.nfsServer(timeo: 5, retrans: 1)
        let connection = try NFSConnection(server: nfs, root: "/export")
        let file = try connection.openFile("/disk", readOnly: false, create: true, on: loop)
        try file.resize(to: 1 << 20)
        server.kill9()

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { buffer.deallocate() }
        let start = Date()
        let request = IORequest(.write, buffer: buffer.baseAddress, length: 4096, offset: 0)
        file.submit(request)
        loop.run(until: { request.isComplete })
        let elapsed = Date().timeIntervalSince(start)
        #expect(request.failure?.errno == ETIMEDOUT, "\(String(describing: request.failure))")
        #expect(elapsed >= 0.9 && elapsed < 2.5, "failed after \(elapsed) s; the bound is 1 s")

        let namespaceStart = Date()
        #expect(throws: NFSError.self) { _ = try connection.status("/disk") }
        #expect(Date().timeIntervalSince(namespaceStart) < 2.5)
        do {
            _ = try NFSConnection(server: nfs, root: "/export")
            Issue.record("mounting a dead server must fail")
        } catch let e as NFSError {
            #expect("\(e)".contains("nfs://127.0.0.1/export"), "the error names the server: \(e)")
        }
        file.close()
    }

    @Test func restartDuringWritesThroughTheDaemonKeepsFlushedData() throws {
        guard let products = productsDirectory(containing: "sm-tapdisk") else {
            Issue.record("sm-tapdisk is not built")
            return
        }
        let dir = TempDir(prefix: "nfs"), run = TempDir(prefix: "nfsd")
        let server = try GaneshaServer.start(in: dir.path)
        defer { server.stop() }
        // A 64 MiB dynamic VHD on the export, made by the engine's own code through NFS.
        let image = server.exportDirectory + "/disk.vhd"
        let made = try runTool("qemu-img", ["create", "-f", "vpc", "-o", "subformat=dynamic", image, "64M"])
        #expect(made.status == 0, "\(made.output)")

        let url = server.nfsServer(timeo: 20, retrans: 4).url("/export/disk.vhd") + "&timeo=20&retrans=4"
        let socket = run.file("d.sock")
        let daemon = try spawn(products + "/sm-tapdisk", ["serve", "--socket", socket, "--export", "vdi", url])
        defer { Glibc.kill(daemon, SIGKILL); var s: Int32 = 0; waitpid(daemon, &s, 0) }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: socket) { usleep(25_000) }

        let loop = try EventLoop()
        let nbd = try NBDClientStore(uri: "nbd+unix:///vdi?socket=\(socket)", on: loop)
        defer { nbd.close() }
        let chunk = 256 << 10, chunks = 32
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk * chunks, alignment: 4096)
        defer { buffer.deallocate() }
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: i / 4096 &+ i) }

        // First half written and flushed; the server restarts while the second half is in flight.
        try nbd.write(UnsafeRawBufferPointer(rebasing: buffer[0..<(chunk * chunks / 2)]), at: 0)
        try nbd.flush()
        let requests = (chunks / 2..<chunks).map { i in
            IORequest(.write, buffer: buffer.baseAddress! + i * chunk, length: chunk, offset: UInt64(i * chunk))
        }
        for r in requests { nbd.submit(r) }
        _ = loop.runOnce(timeoutNanoseconds: 0)
        server.kill9()
        try server.restart(graceful: false)
        loop.run(until: { requests.allSatisfy(\.isComplete) })
        for r in requests { #expect(r.failure == nil, "\(String(describing: r.failure))") }
        try nbd.flush()

        let back = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count, alignment: 4096)
        defer { back.deallocate() }
        try nbd.read(into: back, at: 0)
        #expect(memcmp(buffer.baseAddress!, back.baseAddress!, buffer.count) == 0, "everything flushed reads back")
    }

    /// Starts a child that the test kills by pid (SIGKILL) when done.
    func spawn(_ executable: String, _ arguments: [String]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw GaneshaServer.ServerError(message: "cannot start \(executable): errno \(rc)") }
        return pid
    }
}
}
