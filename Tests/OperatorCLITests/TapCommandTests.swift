import Foundation
import Glibc
import TestSupport
import TapControl
import Testing

/// vdi-attach / vdi-detach and tap-list, tap-stats, tap-pause, tap-unpause through the built
/// sm-cli and sm-tapdisk, with a temporary run directory.
@Suite(.enabled(if: productsDirectory(containing: "sm-tapdisk") != nil, "sm-tapdisk is not built"))
struct TapCommandTests {
    func session() -> CLISession {
        let s = CLISession()
        s.environment["SM_RUN_DIR"] = s.dir.path + "/run"
        s.environment["SM_TAPDISK"] = productsDirectory(containing: "sm-tapdisk")! + "/sm-tapdisk"
        return s
    }

    func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    @Test func attachListStatsPauseUnpauseDetach() throws {
        let s = session()
        let sr = try s.createSR()
        let vdi = try s.ok("vdi-create", "sr-uuid=\(sr)", "name-label=d", "virtual-size=16MiB")
        let socket = "\(s.dir.path)/run/\(sr)/\(vdi).sock"
        let uri = try s.ok("vdi-attach", "uuid=\(vdi)")
        #expect(uri == "nbd+unix:///\(vdi)?socket=\(socket)")
        // Attach again: the same daemon, the same URI; --json names the sockets and the pid.
        let attached = try #require(try json(try s.ok("vdi-attach", "uuid=\(vdi)", "--json")) as? [String: Any])
        #expect(attached["uri"] as? String == uri)
        #expect(attached["control"] as? String == "\(s.dir.path)/run/\(sr)/\(vdi).ctl")
        let pid = try #require(attached["pid"] as? Int)
        #expect(pid > 0 && kill(pid_t(pid), 0) == 0)

        let io = try runTool("qemu-io", ["-f", "raw", "-c", "write -P 0x11 0 128k", "-c", "read -P 0x11 0 128k", uri])
        #expect(io.status == 0, "\(io.output)")
        // A served VDI cannot be destroyed: the daemon holds its image.
        try s.fails(["vdi-destroy", "uuid=\(vdi)"], name: "VDIInUse", code: 24)
        #expect(FileManager.default.fileExists(atPath: s.image(sr, vdi)))

        let list = try s.ok("tap-list")
        #expect(list.contains("vdi-uuid ( RO)") && list.contains(vdi) && list.contains("state ( RO): serving"), "\(list)")
        let records = try #require(try json(try s.ok("tap-list", "--json")) as? [[String: Any]])
        #expect(records.count == 1 && records[0]["vdi-uuid"] as? String == vdi && records[0]["path"] as? String == s.image(sr, vdi))

        let stats = try s.ok("tap-stats", "uuid=\(vdi)")
        #expect(stats.contains("pauses ( RO): 0") && stats.contains(": write") && stats.contains("latency-p99-us ( RO): "), "\(stats)")
        let statsJSON = try #require(try json(try s.ok("tap-stats", "uuid=\(vdi)", "--json")) as? [[String: Any]])
        let ops = try #require(statsJSON.first?["ops"] as? [[String: Any]])
        let write = try #require(ops.first { $0["op"] as? String == "write" })
        #expect(write["bytes"] as? Int == 128 << 10 && write["errors"] as? Int == 0)

        try s.ok("tap-pause", "uuid=\(vdi)")
        #expect(try s.ok("tap-list").contains("state ( RO): paused"))
        try s.ok("tap-unpause", "uuid=\(vdi)")
        #expect(try s.ok("tap-list").contains("state ( RO): serving"))
        let reread = try runTool("qemu-io", ["-f", "raw", "-c", "read -P 0x11 0 128k", uri])
        #expect(reread.status == 0, "\(reread.output)")

        try s.ok("vdi-detach", "uuid=\(vdi)")
        #expect(!DataPathLauncher.isAlive(pid_t(pid)), "sm-tapdisk \(pid) still runs after vdi-detach")
        #expect(!FileManager.default.fileExists(atPath: socket))
        try s.ok("vdi-detach", "uuid=\(vdi)")  // idempotent
        try s.fails(["tap-stats", "uuid=\(vdi)"], name: "VDIUnavailable", code: 46)
        try s.fails(["tap-pause", "uuid=\(vdi)"], name: "VDIUnavailable", code: 46)
        #expect(try s.ok("tap-list").isEmpty)
    }

    @Test func attachRefusals() throws {
        let s = session()
        let sr = try s.createSR()
        try s.fails(["vdi-attach", "uuid=\(UUID().uuidString.lowercased())", "sr-uuid=\(sr)"], name: "VDIMissing", code: 144)
        let vdi = try s.ok("vdi-create", "sr-uuid=\(sr)", "name-label=ro", "virtual-size=8MiB", "read-only=true")
        try s.fails(["vdi-attach", "uuid=\(vdi)"], name: "VDIUnavailable", code: 46)
        let uri = try s.ok("vdi-attach", "uuid=\(vdi)", "read-only=true")
        let write = try runTool("qemu-io", ["-f", "raw", "-c", "write 0 4k", uri])
        #expect(write.status != 0 || write.output.contains("failed"), "a read-only attach took a write: \(write.output)")
        try s.ok("vdi-detach", "uuid=\(vdi)")
        try s.fails(["vdi-attach", "uuid=\(vdi)", "read-only=true"], name: "VDIUnavailable", code: 46,
                    env: ["SM_TAPDISK": "/nonexistent/sm-tapdisk"])
    }
}
