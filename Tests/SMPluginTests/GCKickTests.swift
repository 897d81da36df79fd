import Foundation
import Testing
import XMLRPC

/// As SM starts cleanup.py after vdi_delete and sr_scan, the plugin starts sm-gc detached:
/// the call answers at once, and the chain is collected shortly after.
@Suite struct GCKickTests {
    @Test func vdiDeleteStartsTheBackgroundCollector() throws {
        let host = try PluginHost()
        host.environment["SM_GC_KICK"] = nil  // the default: background
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        let snap = try #require(try host.ok(XAPICall("vdi_snapshot", location: host.location, sr: sr, vdi: vdi))["uuid"]?.stringValue)
        #expect(host.images(sr).count == 3, "base copy, leaf, snapshot")
        try host.ok(XAPICall("vdi_delete", location: host.location, sr: sr, vdi: snap))
        // The base copy's only child is the leaf: sm-gc leaf-coalesces it, one image is left.
        let deadline = Date().addingTimeInterval(30)
        while host.images(sr) != ["\(vdi).vhd"] && Date() < deadline { usleep(50_000) }
        #expect(host.images(sr) == ["\(vdi).vhd"], "\(host.images(sr))")
        // Its last line is the report; then it exits.
        let logPath = "\(host.location)/\(sr)/.sm/lock/\(sr)/gc.log"
        var log = ""
        while !log.contains("collected") && Date() < deadline {
            log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            usleep(50_000)
        }
        #expect(log.contains("collected") && log.contains(vdi), "\(log)")
    }
}
