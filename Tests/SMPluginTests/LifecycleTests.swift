import Foundation
import Testing
import XMLRPC

/// A file SR's life as XAPI drives it, through the real binary invoked as `FileSR`: each
/// response has the shape XAPI parses, and the SR directory shows the effect.
@Suite struct LifecycleTests {
    @Test func driverInfoHasWhatXAPIRegisters() throws {
        let host = try PluginHost()
        var call = XAPICall("sr_get_driver_info")
        call.sessionRef = nil
        call.srMaster = nil
        let info = try host.ok(call)
        for key in ["name", "description", "vendor", "copyright", "driver_version"] {
            #expect(info[key]?.stringValue?.isEmpty == false, "\(key)")
        }
        #expect(info["required_api_version"] == .string("1.0"))
        let caps = Set(try #require(info["capabilities"]?.arrayValue).compactMap(\.stringValue))
        for cap in ["SR_PROBE", "SR_UPDATE", "VDI_CREATE", "VDI_DELETE", "VDI_ATTACH", "VDI_DETACH", "VDI_ACTIVATE",
                    "VDI_DEACTIVATE", "VDI_CLONE", "VDI_SNAPSHOT", "VDI_RESIZE", "VDI_INTRODUCE", "VDI_UPDATE",
                    "VDI_GENERATE_CONFIG", "THIN_PROVISIONING"] {
            #expect(caps.contains(cap), "\(cap)")
        }
        #expect(!caps.contains("ATOMIC_PAUSE"))
        let config = try #require(info["configuration"]?.arrayValue)
        #expect(config.contains { $0["key"] == .string("location") && $0["description"]?.stringValue?.isEmpty == false })
    }

    @Test func fullLifecycle() throws {
        let host = try PluginHost()
        let loc = host.location
        let sr = UUID().uuidString.lowercased()
        #expect(try host.ok(XAPICall("sr_create", location: loc, sr: sr, args: ["0"])) == .nil)
        #expect(try host.ok(XAPICall("sr_attach", location: loc, sr: sr)) == .nil)
        let probe = try #require(try host.ok(XAPICall("sr_probe", location: loc)).stringValue)
        #expect(probe.contains("<SRlist>") && probe.contains("<UUID>\(sr)</UUID>"))

        // vdi_create → {location, uuid}; the image is <uuid>.vhd.
        var create = XAPICall("vdi_create", location: loc, sr: sr, args: XAPICall.createArgs(size: "\(10 << 20)"))
        create.vdiType = "user"
        create.vdiSMConfig = []
        let created = try host.ok(create)
        guard case let .structure(members) = created else { Issue.record("not a struct: \(created)"); return }
        #expect(members.map(\.0) == ["location", "uuid"])
        let vdi = try #require(created["uuid"]?.stringValue)
        #expect(created["location"] == .string(vdi))
        #expect(host.images(sr) == [vdi + ".vhd"])

        // A forced uuid is honoured.
        let forced = UUID().uuidString.lowercased()
        var createForced = create
        createForced.vdiUUID = forced
        #expect(try host.ok(createForced)["uuid"] == .string(forced))

        // Snapshot (double): the original keeps its uuid, a new snapshot and a hidden base copy appear.
        let snap = try host.ok(XAPICall("vdi_snapshot", location: loc, sr: sr, vdi: vdi))
        let snapUUID = try #require(snap["uuid"]?.stringValue)
        #expect(snapUUID != vdi && snap["location"] == .string(snapUUID))
        #expect(host.images(sr).count == 4)
        try host.ok(XAPICall("vdi_update", location: loc, sr: sr, vdi: snapUUID))

        // Clone (double), and single through driver_params.
        let clone = try #require(try host.ok(XAPICall("vdi_clone", location: loc, sr: sr, vdi: vdi))["uuid"]?.stringValue)
        #expect(host.images(sr).contains(clone + ".vhd"))
        var single = XAPICall("vdi_snapshot", location: loc, sr: sr, vdi: forced)
        single.driverParams = [("type", "single")]
        let singleUUID = try #require(try host.ok(single)["uuid"]?.stringValue)
        #expect(host.images(sr).contains(singleUUID + ".vhd"))

        // Resize grows the leaf.
        let resized = try host.ok(XAPICall("vdi_resize", location: loc, sr: sr, vdi: vdi, args: ["\(64 << 20)"]))
        #expect(resized["uuid"] == .string(vdi))

        // generate_config is a whole vdi_attach_from_config call, as a string.
        let config = try #require(try host.ok(XAPICall("vdi_generate_config", location: loc, sr: sr, vdi: vdi)).stringValue)
        guard case let .call(method, params) = try XMLRPCDecoder.decode(config) else { Issue.record("\(config)"); return }
        #expect(method == "vdi_attach_from_config")
        #expect(params.first?["vdi_uuid"] == .string(vdi))
        #expect(params.first?["device_config"]?["location"] == .string(loc))

        try host.ok(XAPICall("vdi_epoch_begin", location: loc, sr: sr, vdi: vdi))
        try host.ok(XAPICall("vdi_epoch_end", location: loc, sr: sr, vdi: vdi))
        try host.ok(XAPICall("sr_update", location: loc, sr: sr))
        try host.ok(XAPICall("sr_scan", location: loc, sr: sr))

        // Not empty yet.
        try host.fails(XAPICall("sr_delete", location: loc, sr: sr), 39)

        // Delete everything, twice (idempotent); base copies go with their last child.
        for v in [vdi, snapUUID, clone, singleUUID, forced] {
            #expect(try host.ok(XAPICall("vdi_delete", location: loc, sr: sr, vdi: v)) == .nil)
            #expect(try host.ok(XAPICall("vdi_delete", location: loc, sr: sr, vdi: v)) == .nil)
        }
        #expect(host.images(sr) == [])
        try host.ok(XAPICall("sr_scan", location: loc, sr: sr))
        try host.ok(XAPICall("sr_detach", location: loc, sr: sr))
        #expect(try host.ok(XAPICall("sr_delete", location: loc, sr: sr)) == .nil)
        #expect(!FileManager.default.fileExists(atPath: loc + "/" + sr))
        let after = try #require(try host.ok(XAPICall("sr_probe", location: loc)).stringValue)
        #expect(!after.contains(sr))
    }

    @Test func scanAdoptsAndIntroduceRecordsImages() throws {
        let host = try PluginHost()
        let loc = host.location
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        // An image copied in by hand is adopted by scan; introduce then returns it.
        let copy = UUID().uuidString.lowercased()
        try FileManager.default.copyItem(atPath: "\(loc)/\(sr)/\(vdi).vhd", toPath: "\(loc)/\(sr)/\(copy).vhd")
        let r = try host.run(XAPICall("sr_scan", location: loc, sr: sr))
        #expect(r.result == .nil)
        #expect(r.err.contains(copy))
        var introduce = XAPICall("vdi_introduce", location: loc, sr: sr)
        introduce.vdiLocation = copy
        introduce.newUUID = copy
        introduce.vdiSMConfig = []
        #expect(try host.ok(introduce)["uuid"] == .string(copy))
        // A location with no image is VDIMissing.
        introduce.vdiLocation = UUID().uuidString.lowercased()
        introduce.newUUID = introduce.vdiLocation
        try host.fails(introduce, 144)
    }

    @Test func xmlDeclarationAndTypedStringsAreAccepted() throws {
        let host = try PluginHost()
        let typed = "<?xml version='1.0'?>\n<methodCall>\n<methodName>sr_probe</methodName>\n<params>\n<param>\n"
            + "<value><struct>\n<member><name>command</name><value><string>sr_probe</string></value></member>\n"
            + "<member><name>device_config</name><value><struct><member><name>SRmaster</name><value><string>true</string></value></member>"
            + "<member><name>location</name><value><string>\(host.location)</string></value></member></struct></value></member>\n"
            + "</struct></value>\n</param>\n</params>\n</methodCall>\n"
        let r = try host.runRaw([typed])
        #expect(r.result?.stringValue?.contains("<SRlist>") == true, "\(r.out)")
    }
}
