import Foundation
import Glibc
import NBDClient
import StorageIO
import Testing
import TestSupport

/// The data path of an NFS VDI as an operator drives it: `sm-cli vdi-attach` starts
/// sm-tapdisk on the VDI's nfs:// URL (the daemon reads the server itself, no mount), a
/// client writes and reads over NBD, and a snapshot taken while attached pauses the daemon
/// and unpauses it on the new leaf, reopened over NFS.
extension NFSServerTests {
@Suite struct NFSAttachTests {
    /// sm-cli against a temporary registry, lock and run directory.
    struct CLI {
        let executable: String
        let dir: TempDir
        let tapdisk: String

        func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            var env = ProcessInfo.processInfo.environment
            env["SM_REGISTRY"] = dir.path + "/registry.json"
            env["SM_RUN_DIR"] = dir.path + "/run"
            env["SM_LOCK_DIR"] = dir.path + "/locks"
            env["SM_TAPDISK"] = tapdisk
            env["SM_GC_KICK"] = "none"
            return try runProcess(executable, args, environment: env)
        }

        @discardableResult
        func ok(_ args: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
            let r = try run(args)
            try #require(r.status == 0, "sm-cli \(args.joined(separator: " ")): \(r.err)", sourceLocation: sourceLocation)
            return r.out
        }

        /// The pid of the daemon serving `vdi` of `sr`, from its pid file.
        func daemonPID(sr: String, vdi: String) -> pid_t? {
            (try? String(contentsOfFile: "\(dir.path)/run/\(sr)/\(vdi).pid", encoding: .utf8))
                .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }

    static func pattern(_ seed: UInt8, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 / 512 &+ Int(seed)) }
    }

    @Test func vdiAttachServesAnNFSVDIAndSurvivesASnapshot() throws {
        guard let products = productsDirectory(containing: "sm-tapdisk"),
              FileManager.default.isExecutableFile(atPath: products + "/sm-cli") else {
            Issue.record("sm-tapdisk and sm-cli are not built")
            return
        }
        let dir = TempDir(prefix: "nfs"), home = TempDir(prefix: "nfscli")
        let server = try GaneshaServer.start(in: dir.path)
        defer { server.stop() }
        let cli = CLI(executable: products + "/sm-cli", dir: home, tapdisk: products + "/sm-tapdisk")
        let config = server.deviceConfig().sorted { $0.key < $1.key }.map { "device-config:\($0.key)=\($0.value)" }
        let sr = try cli.run(["sr-create", "type=nfs", "name-label=shared"] + config)
        try #require(sr.status == 0, "sr-create: \(sr.err)")
        let vdi = try cli.ok("vdi-create", "sr-uuid=\(sr.out)", "name-label=d", "virtual-size=16MiB")

        let uri = try cli.ok("vdi-attach", "uuid=\(vdi)")
        let pid = try #require(cli.daemonPID(sr: sr.out, vdi: vdi))
        defer { if GaneshaServer.alive(pid) { Glibc.kill(pid, SIGKILL) } }
        let cmdline = String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data(), as: UTF8.self)
        #expect(cmdline.contains("nfs://127.0.0.1/export/\(sr.out)/\(vdi).vhd"), "the daemon opens the VDI's URL: \(cmdline)")

        let loop = try EventLoop()
        let nbd = try NBDClientStore(uri: uri, on: loop)
        let first = Self.pattern(1, count: 1 << 20), second = Self.pattern(2, count: 64 << 10)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: first.count, alignment: 4096)
        defer { buffer.deallocate() }
        func write(_ data: [UInt8]) throws {
            buffer.copyBytes(from: data)
            try nbd.write(UnsafeRawBufferPointer(rebasing: buffer[0..<data.count]), at: 2 << 20)
            try nbd.flush()
        }
        try write(first)

        // Snapshot while attached: the daemon pauses, the leaf is replaced, it reopens over NFS.
        let snap = try cli.ok("vdi-snapshot", "uuid=\(vdi)")
        try write(second)
        let back = UnsafeMutableRawBufferPointer.allocate(byteCount: first.count, alignment: 4096)
        defer { back.deallocate() }
        try nbd.read(into: back, at: 2 << 20)
        #expect(Array(back.prefix(second.count)) == second, "the write after the snapshot reads back")
        #expect(Array(back.dropFirst(second.count)) == Array(first.dropFirst(second.count)), "the data before it too")
        nbd.close()
        let tap = try cli.ok("tap-list", "sr-uuid=\(sr.out)", "params=path")
        #expect(tap.contains("nfs://"), "unpaused on the new leaf's URL: \(tap)")

        // The snapshot holds the data before it.
        let exported = home.path + "/snap.raw"
        try cli.ok("vdi-export", "uuid=\(snap)", "filename=\(exported)", "format=raw")
        let snapData = try #require(FileManager.default.contents(atPath: exported))
        #expect(Array(snapData[(2 << 20)..<(3 << 20)]) == first, "the snapshot holds what was flushed before it")

        // Online leaf-coalesce over NFS: with the snapshot gone, the collector has the daemon
        // merge the attached leaf into its base (opened over NFS), then swaps it in.
        try cli.ok("vdi-destroy", "uuid=\(snap)")
        let gc = try cli.run(["sr-gc", "uuid=\(sr.out)"])
        #expect(gc.status == 0 && gc.out.contains("leaf-coalesced"), "\(gc.out) \(gc.err)")
        let again = try NBDClientStore(uri: uri, on: loop)
        try again.read(into: back, at: 2 << 20)
        again.close()
        #expect(Array(back.prefix(second.count)) == second && Array(back.dropFirst(second.count)) == Array(first.dropFirst(second.count)),
                "the merged VDI serves the same data")
        #expect(GaneshaServer.alive(pid), "the same daemon serves on")

        try cli.ok("vdi-detach", "uuid=\(vdi)")
        #expect(!GaneshaServer.alive(pid), "vdi-detach stops the daemon")

        // The VDI holds the data after the snapshot.
        try cli.ok("vdi-export", "uuid=\(vdi)", "filename=\(exported)", "format=raw")
        let vdiData = try #require(FileManager.default.contents(atPath: exported))
        #expect(Array(vdiData[(2 << 20)..<((2 << 20) + second.count)]) == second)
    }
}
}
