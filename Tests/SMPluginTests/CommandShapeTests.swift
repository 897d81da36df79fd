import Foundation
import SREngine
import Testing
import XMLRPC

@testable import SMPlugin

/// Issue #8's harness, completed: every command of its list run once through the real
/// binary with the exact shape of what XAPI parses (`sm_exec.ml`): unit results are
/// `<nil/>`, new VDIs `{location, uuid}` in that order, probe and generate_config one
/// string; every fault `description [opterr=detail]` with the detail also on stderr.
/// (vdi_attach's struct: AttachTests and FullLifecycleTests, which need sm-tapdisk.)
@Suite struct CommandShapeTests {
    /// `{location, uuid}` exactly, as SM's `VDI.get_params`; returns the uuid.
    @discardableResult
    func expectParams(_ v: XMLRPCValue, uuid: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        guard case let .structure(members) = v, members.map(\.0) == ["location", "uuid"],
              let id = v["uuid"]?.stringValue, v["location"] == .string(id) else {
            Issue.record("not {location, uuid}: \(v)", sourceLocation: sourceLocation)
            return ""
        }
        if let uuid { #expect(id == uuid, sourceLocation: sourceLocation) }
        return id
    }

    @Test func driverInfoMembersAndTypes() throws {
        let host = try PluginHost()
        var call = XAPICall("sr_get_driver_info")
        call.sessionRef = nil
        let info = try host.ok(call)
        guard case let .structure(members) = info else { Issue.record("\(info)"); return }
        #expect(members.map(\.0) == ["name", "description", "vendor", "copyright", "driver_version",
                                     "required_api_version", "capabilities", "configuration", "supported_image_formats"])
        for (name, value) in members.prefix(6) { #expect(value.stringValue != nil, "\(name) is not a string") }
        let caps = try #require(info["capabilities"]?.arrayValue)
        #expect(caps.allSatisfy { $0.stringValue != nil })
        #expect(caps.contains(.string("VDI_RESIZE_ONLINE")))
        for entry in try #require(info["configuration"]?.arrayValue) {
            guard case let .structure(pair) = entry else { Issue.record("\(entry)"); continue }
            #expect(pair.map(\.0) == ["key", "description"])
        }
    }

    @Test func everyCommandAnswersWhatXAPIParses() throws {
        let host = try PluginHost()
        let loc = host.location
        let sr = UUID().uuidString.lowercased()
        let x = { (command: String, vdi: String?, args: [String]) in XAPICall(command, location: loc, sr: sr, vdi: vdi, args: args) }
        #expect(try host.ok(x("sr_create", nil, ["0"])) == .nil)
        #expect(try host.ok(x("sr_attach", nil, [])) == .nil)
        var probe = XAPICall("sr_probe", location: loc)
        probe.srSMConfig = []
        #expect(try host.ok(probe) == .string(ProbeXML.srList([sr])))
        #expect(try host.ok(x("sr_update", nil, [])) == .nil)
        #expect(try host.ok(x("sr_content_type", nil, [])) == .string("vhd"))

        let vdi = try host.makeVDI(sr, size: 4 << 20)
        for command in ["vdi_update", "vdi_epoch_begin", "vdi_epoch_end", "vdi_activate", "vdi_deactivate", "vdi_detach"] {
            #expect(try host.ok(x(command, vdi, command == "vdi_activate" ? ["true"] : [])) == .nil, "\(command)")
        }
        for type in ["double", "single", "internal"] {
            var snapshot = x("vdi_snapshot", vdi, [])
            if type != "double" { snapshot.driverParams = [("type", type)] }
            expectParams(try host.ok(snapshot))
        }
        let clone = expectParams(try host.ok(x("vdi_clone", vdi, [])))
        expectParams(try host.ok(x("vdi_resize", vdi, ["\(8 << 20)"])), uuid: vdi)
        expectParams(try host.ok(x("vdi_resize_online", clone, ["\(12 << 20)"])), uuid: clone)
        let engine = try SRManager().attach(uuid: sr, type: "file", deviceConfig: ["location": loc])
        #expect(try engine.vdi(vdi).virtualSize == 8 << 20 && engine.vdi(clone).virtualSize == 12 << 20)

        let config = try #require(try host.ok(x("vdi_generate_config", vdi, [])).stringValue)
        guard case let .call(method, _) = try XMLRPCDecoder.decode(config) else { Issue.record("\(config)"); return }
        #expect(method == "vdi_attach_from_config")
        var detach = x("vdi_detach_from_config", vdi, [])
        detach.sessionRef = nil
        #expect(try host.ok(detach) == .nil)

        var introduce = XAPICall("vdi_introduce", location: loc, sr: sr)
        introduce.vdiLocation = clone
        introduce.newUUID = clone
        introduce.vdiSMConfig = []
        expectParams(try host.ok(introduce), uuid: clone)

        for v in try engine.vdis().filter({ !$0.hidden }).map(\.uuid) { #expect(try host.ok(x("vdi_delete", v, [])) == .nil) }
        #expect(host.images(sr).isEmpty)
        #expect(try host.ok(x("sr_scan", nil, [])) == .nil)
        #expect(try host.ok(x("sr_detach", nil, [])) == .nil)
        #expect(try host.ok(x("sr_delete", nil, [])) == .nil)
    }

    /// Each refusal in XenServer's shape: exit 0, the code, `description [opterr=detail]`
    /// (XAPI shows it as SR_BACKEND_FAILURE_<code>), and the detail on stderr too.
    @Test func faultsHaveXenServersShape() throws {
        let host = try PluginHost()
        let loc = host.location
        let sr = try host.makeSR()
        let ghost = UUID().uuidString.lowercased()
        var slave = XAPICall("vdi_resize", location: loc, sr: sr, vdi: ghost, args: ["\(8 << 20)"])
        slave.srMaster = false
        let cases: [(XAPICall, Int)] = [
            (XAPICall("sr_attach", sr: sr), 94),
            (XAPICall("vdi_clone", location: loc, sr: sr, vdi: ghost), 144),
            (XAPICall("vdi_resize_online", location: loc, sr: sr, vdi: ghost, args: ["\(8 << 20)"]), 144),
            (XAPICall("vdi_create", location: loc, sr: sr, args: XAPICall.createArgs(size: "12abc")), 79),
            (XAPICall("vdi_create", location: loc, sr: sr, args: XAPICall.createArgs(size: "1048576", label: "a\u{8}")), 447),
            (XAPICall("vdi_snapshot", location: loc, sr: sr, vdi: "not-a-uuid"), 143),
            (XAPICall("vdi_list_changed_blocks", location: loc, sr: sr, vdi: ghost), 38),
            (slave, 202),
        ]
        for (call, code) in cases {
            let r = try host.fails(call, code)
            let shape = r.faultString.range(of: #"^[^\[]+ \[opterr=.+\]$"#, options: .regularExpression)
            #expect(shape != nil, "\(call.command) (\(code)): '\(r.faultString)'")
            let detail = r.faultString.range(of: "[opterr=").map { String(r.faultString[$0.upperBound...].dropLast()) } ?? "?"
            #expect(r.err.contains(detail), "\(call.command): stderr lacks the detail: \(r.err)")
        }
        #expect(host.images(sr).isEmpty)
    }

    /// Every command XAPI sends only to the SR master is refused on a slave (SRmaster false
    /// or absent), through the binary, and changes nothing.
    @Test func everyMasterOnlyCommandRefusesOnSlaves() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        let metadata = { try Data(contentsOf: URL(fileURLWithPath: "\(host.location)/\(sr)/.sm/metadata")) }
        let before = (host.images(sr), try metadata())
        for command in CommandDispatch.masterOnly.sorted() {
            let args = command == "vdi_create" ? XAPICall.createArgs(size: "1048576")
                : command.hasPrefix("vdi_resize") ? ["\(16 << 20)"] : []
            for master in [false, nil] as [Bool?] {
                var call = XAPICall(command, location: host.location, sr: sr, vdi: command == "vdi_create" ? nil : vdi, args: args)
                call.srMaster = master
                // Not implemented at all is Unimplemented first, as SM answers any host.
                try host.fails(call, CommandDispatch.implemented.contains(command) ? 202 : 38)
            }
        }
        #expect(host.images(sr) == before.0)
        #expect(try metadata() == before.1)
    }

    /// vdi_resize_online of a VDI a daemon serves: the daemon is paused around the grow and
    /// the client sees the new size with the old data.
    @Test(.enabled(if: FullLifecycleTests.runnable, "needs sm-tapdisk built next to sm-plugin, qemu-img and qemu-io"))
    func resizeOnlineGrowsAServedVDI() throws {
        let life = try PluginLifecycle()
        defer { killDaemons(under: life.host.runDirectory) }
        try life.host.ok(life.call("sr_create", args: ["0"]))
        try life.host.ok(life.call("sr_attach"))
        let vdi = try life.host.makeVDI(life.sr, size: 4 << 20)
        let uri = try life.attach(vdi, writable: true)
        var disk = ExpectedDisk(size: 4 << 20, scratch: life.host.dir.path)
        try disk.write(ExpectedDisk.pattern(1 << 20, seed: 7), at: 3 << 20, into: uri)
        expectParams(try life.host.ok(life.call("vdi_resize_online", vdi: vdi, args: ["\(8 << 20)"])), uuid: vdi)
        let info = try runBoundedTool("qemu-img", ["info", "--output=json", uri])
        #expect(info.output.contains("\"virtual-size\": \(8 << 20)"), "\(info.output)")
        var grown = disk.resized(to: 8 << 20)
        try grown.matches(uri, "the old data after the online resize")
        try grown.write(ExpectedDisk.pattern(4096, seed: 8), at: (8 << 20) - 4096, into: uri)
        try grown.matches(uri, "after the online resize")
        try life.detach(vdi)
    }

    /// vdi_compose (storage migration): vdi2's leaf is put on top of vdi1, which becomes a
    /// hidden, unmanaged base copy. args[0] is vdi1's XAPI reference; without a session the
    /// plugin cannot resolve one, so this call passes the uuid (the mirror tests resolve refs).
    @Test func composePutsALeafOnAnotherVDI() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        let vdi1 = try host.makeVDI(sr), vdi2 = try host.makeVDI(sr)
        // vdi2 needs a parent (a differencing leaf): snapshot it first.
        _ = try host.ok(XAPICall("vdi_snapshot", location: host.location, sr: sr, vdi: vdi2))
        #expect(try host.ok(XAPICall("vdi_compose", location: host.location, sr: sr, vdi: vdi2, args: [vdi1])) == .nil)
        let engine = try SRManager().attach(uuid: sr, type: "file", deviceConfig: ["location": host.location])
        #expect(try engine.vdi(vdi2).parent == vdi1)
        let base = try engine.vdi(vdi1)
        #expect(base.hidden && !base.managed && base.readOnly)
        #expect(try engine.verify().isConsistent)
        // An unresolvable reference, a leaf without parent, a loop: InvalidArg, nothing changed.
        try host.fails(XAPICall("vdi_compose", location: host.location, sr: sr, vdi: vdi2, args: ["OpaqueRef:x"]), 1)
        let vdi3 = try host.makeVDI(sr)
        try host.fails(XAPICall("vdi_compose", location: host.location, sr: sr, vdi: vdi3, args: [vdi2]), 1)
        try host.fails(XAPICall("vdi_compose", location: host.location, sr: sr, vdi: vdi2, args: [vdi2]), 1)
        #expect(try engine.verify().isConsistent)
    }
}
