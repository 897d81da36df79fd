import DataPath
import Foundation
import Glibc
import Logging
import NBD
import StorageIO
import StorageSimulation
import Testing

/// The built `sm-tapdisk`, next to the test bundle; nil when it was not built.
func daemonPath() -> String? {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("sm-tapdisk").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}

@Suite("sm-tapdisk daemon and listeners", .serialized)
struct DaemonTests {
    @Test("TCP listens on loopback only")
    func tcpLoopbackOnly() throws {
        let loop = try EventLoop()
        let disk = SimulatedDisk(size: 1 << 20, seed: 1, loop: loop)
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let server = try NBDServer(loop: loop, exports: [ServedExport(name: "", backend: BlockIOExport(store: disk))], logger: logger)
        #expect(throws: SocketError.self) { try server.listen(tcpHost: "0.0.0.0", port: 0) }
        #expect(throws: SocketError.self) { try server.listen(tcpHost: "10.1.2.3", port: 0) }
        let port = try server.listen(tcpHost: "127.0.0.1", port: 0)
        #expect(port != 0)
        server.stop()
        server.run()
    }

    @Test("the Unix socket is created with mode 0600 and a non-socket file is not replaced")
    func unixSocketMode() throws {
        let dir = try ScratchDirectory()
        let loop = try EventLoop()
        let disk = SimulatedDisk(size: 1 << 20, seed: 1, loop: loop)
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let server = try NBDServer(loop: loop, exports: [ServedExport(name: "", backend: BlockIOExport(store: disk))], logger: logger)
        let path = dir.file("s.sock")
        try server.listen(unixPath: path)
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let plain = dir.file("plain")
        writeFile(plain, [1, 2, 3])
        #expect(throws: SocketError.self) { try server.listen(unixPath: plain) }
        server.stop()
        server.run()
        #expect(!FileManager.default.fileExists(atPath: path), "the socket is removed at shutdown")
    }

    @Test("serve prints the URI, answers nbdinfo over Unix and TCP, and exits cleanly on SIGTERM")
    func daemon() throws {
        guard let daemon = daemonPath() else { return }
        let dir = try ScratchDirectory()
        let image = dir.file("disk.img")
        writeFile(image, pattern(count: 1 << 20, seed: 30))
        let socketPath = dir.file("d.sock")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: daemon)
        process.arguments = ["serve", "--socket", socketPath, "--tcp", "127.0.0.1:0", "--export", "disk", image]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        // Two lines: the TCP URI, then the Unix one.
        var text = ""
        let deadline = Date().addingTimeInterval(10)
        while text.split(separator: "\n").count < 2 && Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.last == "nbd+unix:///disk?socket=\(socketPath)", "\(text)")
        let tcpURI = try #require(lines.first { $0.hasPrefix("nbd://127.0.0.1:") })
        if let info = try runTool("nbdinfo", [lines.last ?? ""]) {
            #expect(info.status == 0 && info.output.contains("export-size: \(1 << 20)"), "\(info.output)")
            let tcp = try #require(try runTool("nbdinfo", [tcpURI]))
            #expect(tcp.status == 0, "\(tcp.output)")
        }
        kill(process.processIdentifier, SIGTERM)
        let exitDeadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < exitDeadline { usleep(10_000) }
        #expect(!process.isRunning)
        if !process.isRunning { #expect(process.terminationStatus == 0) }
        #expect(!FileManager.default.fileExists(atPath: socketPath))
    }
}
