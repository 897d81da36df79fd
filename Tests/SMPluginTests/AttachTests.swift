import Foundation
import Glibc
import SREngine
import Testing
import XMLRPC

/// vdi_attach/detach through the real binary: without sm-tapdisk a clear VDIUnavailable;
/// with it (when built next to the plugin), a daemon serving NBD on the socket the answer
/// names, outliving the plugin without holding its output, stopped by vdi_detach.
@Suite struct AttachTests {
    @Test func withoutDaemonAttachIsVDIUnavailable() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        let r = try host.fails(XAPICall("vdi_attach", location: host.location, sr: sr, vdi: vdi, args: ["true"]), 46)
        #expect(r.faultString.contains("sm-tapdisk"))
        try host.ok(XAPICall("vdi_detach", location: host.location, sr: sr, vdi: vdi))
    }

    static var tapdisk: String? {
        productsDirectory.map { $0 + "/sm-tapdisk" }.flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }
    }

    /// Reads the NBD server's first bytes on a Unix socket ("NBDMAGIC" opens the handshake).
    static func greeting(_ path: String) -> String? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 8)
        var got = 0
        while got < 8 {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, 8 - got) }
            if n <= 0 { break }
            got += n
        }
        return String(decoding: buf.prefix(got), as: UTF8.self)
    }

    @Test(.enabled(if: AttachTests.tapdisk != nil, "sm-tapdisk is not built next to sm-plugin"))
    func attachServesOverNBDAndDetachStops() throws {
        let host = try PluginHost()
        host.environment["SM_TAPDISK"] = nil
        let loc = host.location
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        let attach = XAPICall("vdi_attach", location: loc, sr: sr, vdi: vdi, args: ["true"])
        let r = try host.ok(attach)
        guard case let .structure(members) = r else { Issue.record("\(r)"); return }
        #expect(members.map(\.0) == ["params", "params_nbd", "o_direct", "o_direct_reason", "xenstore_data"])
        let socket = "\(host.runDirectory)/\(sr)/\(vdi).sock"
        #expect(r["params_nbd"] == .string("nbd:unix:\(socket):exportname=\(vdi)"))
        #expect(r["o_direct"] == .bool(true))
        #expect(r["xenstore_data"] == .structure([]))
        #expect(Self.greeting(socket) == "NBDMAGIC")
        let pidText = try String(contentsOfFile: "\(host.runDirectory)/\(sr)/\(vdi).pid", encoding: .utf8)
        let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))

        // Attach again answers the same; activate works; the image cannot be deleted underneath
        // (snapshot and resize pause the daemon instead: PauseTests).
        #expect(try host.ok(attach) == r)
        try host.ok(XAPICall("vdi_activate", location: loc, sr: sr, vdi: vdi, args: ["true"]))
        try host.fails(XAPICall("vdi_delete", location: loc, sr: sr, vdi: vdi), 24)

        try host.ok(XAPICall("vdi_deactivate", location: loc, sr: sr, vdi: vdi))
        try host.ok(XAPICall("vdi_detach", location: loc, sr: sr, vdi: vdi))
        #expect(kill(pid, 0) != 0 || Self.isZombie(pid), "sm-tapdisk \(pid) still runs after detach")
        #expect(!FileManager.default.fileExists(atPath: socket))
        try host.ok(XAPICall("vdi_detach", location: loc, sr: sr, vdi: vdi))
        try host.ok(XAPICall("vdi_snapshot", location: loc, sr: sr, vdi: vdi))
    }

    @Test func hiddenBaseCopiesAreNotAttached() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        try host.ok(XAPICall("vdi_snapshot", location: host.location, sr: sr, vdi: vdi))
        let engine = try SRManager().attach(uuid: sr, type: "file", deviceConfig: ["location": host.location])
        let base = try #require(try engine.vdis().first { $0.hidden }).uuid
        let r = try host.fails(XAPICall("vdi_attach", location: host.location, sr: sr, vdi: base, args: ["false"]), 46)
        #expect(r.faultString.contains("base copy"))
        #expect(!FileManager.default.fileExists(atPath: "\(host.runDirectory)/\(sr)/\(base).sock"))
    }

    @Test(.enabled(if: AttachTests.tapdisk != nil, "sm-tapdisk is not built next to sm-plugin"))
    func readOnlyAttachAndGeneratedConfigRoundTrip() throws {
        let host = try PluginHost()
        host.environment["SM_TAPDISK"] = nil
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        try host.ok(XAPICall("vdi_attach", location: host.location, sr: sr, vdi: vdi, args: ["false"]))
        let pid = try String(contentsOfFile: "\(host.runDirectory)/\(sr)/\(vdi).pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let cmdline = String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data(), as: UTF8.self)
        #expect(cmdline.contains("--read-only"))
        try host.ok(XAPICall("vdi_detach", location: host.location, sr: sr, vdi: vdi))

        // What vdi_generate_config returns is a call this plugin runs as it is (HA statefile path).
        let config = try #require(try host.ok(XAPICall("vdi_generate_config", location: host.location, sr: sr, vdi: vdi)).stringValue)
        let attached = try host.runRaw([config])
        #expect(attached.result?["params_nbd"]?.stringValue?.contains(vdi) == true, "\(attached.out)")
        var detach = XAPICall("vdi_detach_from_config", location: host.location, sr: sr, vdi: vdi)
        detach.sessionRef = nil
        try host.ok(detach)
        #expect(!FileManager.default.fileExists(atPath: "\(host.runDirectory)/\(sr)/\(vdi).sock"))
    }

    static func isZombie(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.range(of: ") ", options: .backwards) else { return true }
        return stat[close.upperBound...].hasPrefix("Z")
    }
}
