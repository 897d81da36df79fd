import Foundation
import Glibc
import TapControl
import TestSupport
import Testing

/// kill -9 of sm-tapdisk while fio writes with periodic flushes (`--fsync=16`), into an empty
/// VHD so that writes allocate: after a restart on the same image, fio's own verification
/// (crc32c headers) passes over every write a completed flush covered, and the image checks
/// clean. fio writes sequentially at depth 1, so what was flushed is known from how much it
/// wrote: a flush follows every 16th write and completes before the next write starts.
@Suite(.enabled(if: Built.tapdisk != nil && toolPath("fio") != nil, "sm-tapdisk or fio is missing"))
struct FioKillNineTests {
    static let blockBytes = 64 << 10
    static let writesPerFlush = 16

    func fioArguments(_ uri: String, size: Int) -> [String] {
        ["--name=killed", "--ioengine=nbd", "--uri=\(uri)", "--rw=write", "--bs=\(Self.blockBytes)", "--iodepth=1",
         "--size=\(size)", "--verify=crc32c", "--output-format=json"]
    }

    /// Writes the daemon has served so far.
    func writesServed(_ daemon: TestDaemon) -> UInt64 {
        ((try? daemon.launcher.control.stats())?.first?.ops.first { $0.op == "write" }?.requests) ?? 0
    }

    /// Kills after the daemon has served `writes` writes (and `extraMicroseconds` more).
    @Test(arguments: [(UInt64(40), UInt32(0)), (200, 3_000), (600, 500)])
    func flushedFioWritesSurviveKill9(writes threshold: UInt64, extraMicroseconds: UInt32) throws {
        let dir = TempDir(prefix: "fiokill")
        let image = dir.file("a.vhd")
        try makeVHD(image, mib: 2048)
        let daemon = try TestDaemon(dir: dir, image: image)
        let fio = Process()
        fio.executableURL = URL(fileURLWithPath: try #require(toolPath("fio")))
        fio.arguments = fioArguments(daemon.launcher.nbdURI, size: 2 << 30)
            + ["--fsync=\(Self.writesPerFlush)", "--do_verify=0", "--verify_state_save=0"]
        fio.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        let out = Pipe()
        fio.standardOutput = out
        fio.standardError = FileHandle.nullDevice
        try fio.run()
        let deadline = Date().addingTimeInterval(30)
        while writesServed(daemon) < threshold && fio.isRunning && Date() < deadline { usleep(1000) }
        usleep(extraMicroseconds)
        daemon.kill9()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        fio.waitUntilExit()

        // How much fio wrote, and so how much a completed flush covers.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.drop { $0 != UInt8(ascii: "{") })) as? [String: Any])
        let job = try #require((json["jobs"] as? [[String: Any]])?.first)
        let written = try #require((job["write"] as? [String: Any])?["io_bytes"] as? Int)
        let writes = written / Self.blockBytes
        let flushed = max(0, writes - 1) / Self.writesPerFlush * Self.writesPerFlush
        try #require(flushed >= Self.writesPerFlush, "fio wrote only \(writes) blocks before the kill")
        #expect(writes * Self.blockBytes < 2 << 30, "fio finished before the kill")

        try daemon.start()
        let verify = try runTool("fio", fioArguments(daemon.launcher.nbdURI, size: flushed * Self.blockBytes) + ["--verify_only"])
        #expect(verify.status == 0 && verify.output.contains("\"error\" : 0"), "\(writes) written, \(flushed) flushed: \(verify.output)")
        #expect(verify.output.contains("\"io_bytes\" : \(flushed * Self.blockBytes)"), "fio verified less than was flushed")
        try daemon.launcher.stop()
        #expect(ImageCheck.isClean(image))
    }
}
