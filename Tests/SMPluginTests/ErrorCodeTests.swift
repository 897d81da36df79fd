import Foundation
import Testing
import XMLRPC

/// Every refusal the plugin must give XAPI, through the real binary invoked as `FileSR`:
/// the fault code (what XAPI maps to its errors), exit status 0, and no data touched.
@Suite struct ErrorCodeTests {
    @Test func noArgvIsBadRequest() throws {
        let host = try PluginHost()
        let r = try host.runRaw([])
        #expect(r.status == 0)
        #expect(r.faultCode == 143)
        #expect(r.err.contains("exactly one argument"))
    }

    @Test func twoArgumentsAreBadRequest() throws {
        let host = try PluginHost()
        let call = XAPICall("sr_get_driver_info").text
        #expect(try host.runRaw([call, call]).faultCode == 143)
    }

    @Test func truncatedCallIsBadRequestAndTouchesNothing() throws {
        let host = try PluginHost()
        let text = XAPICall("sr_create", location: host.location, sr: UUID().uuidString.lowercased(), args: ["0"]).text
        for cut in [text.count / 2, text.count - 1, 10] {
            let r = try host.runRaw([String(text.prefix(cut))])
            #expect(r.status == 0)
            #expect(r.faultCode == 143, "cut at \(cut): \(r.out)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: host.location).isEmpty)
    }

    @Test func nonXMLIsBadRequest() throws {
        let host = try PluginHost()
        for junk in ["hello", "", "<methodCall>", "{\"command\": \"sr_scan\"}", "<a><b></a>"] {
            let r = try host.runRaw([junk])
            #expect(r.status == 0)
            #expect(r.faultCode == 143, "\(junk): \(r.out)")
        }
    }

    @Test func wrongShapesAreBadRequest() throws {
        let host = try PluginHost()
        let shapes = [
            "<methodResponse><params><param><value>x</value></param></params></methodResponse>",
            "<methodCall><methodName>sr_scan</methodName><params><param><value>just a string</value></param></params></methodCall>",
            "<methodCall><methodName>sr_scan</methodName><params></params></methodCall>",
            "<methodCall><methodName>sr_scan</methodName><params><param><value><struct><member><name>args</name><value>notarray</value></member></struct></value></param></params></methodCall>",
            "<methodCall><methodName>sr_scan</methodName><params><param><value><struct><member><name>command</name><value>vdi_delete</value></member></struct></value></param></params></methodCall>",
            "<methodCall><methodName>sr_scan</methodName><params><param><value><struct><member><name>device_config</name><value><struct><member><name>location</name><value><int>3</int></value></member></struct></value></member></struct></value></param></params></methodCall>",
        ]
        for shape in shapes { #expect(try host.runRaw([shape]).faultCode == 143, "\(shape)") }
    }

    @Test func unknownCommandIsUnimplemented() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        for command in ["sr_frobnicate", "vdi_revert", "vdi_enable_cbt", "vdi_data_destroy"] {
            try host.fails(XAPICall(command, location: host.location, sr: sr), 38)
        }
    }

    @Test func missingLocationIsConfigLocationMissing() throws {
        let host = try PluginHost()
        let sr = UUID().uuidString.lowercased()
        try host.fails(XAPICall("sr_create", sr: sr, args: ["0"]), 94)
        try host.fails(XAPICall("sr_probe"), 94)
        try host.fails(XAPICall("sr_attach", sr: sr), 94)
        try host.fails(XAPICall("sr_detach", sr: sr), 94)
        try host.fails(XAPICall("vdi_create", sr: sr, args: XAPICall.createArgs(size: "1048576")), 94)
        var empty = XAPICall("sr_create", location: "", sr: sr, args: ["0"])
        empty.deviceConfig = [("location", "")]
        try host.fails(empty, 94)
    }

    @Test func unknownVDIIsVDIMissing() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        let ghost = UUID().uuidString.lowercased()
        for command in ["vdi_snapshot", "vdi_clone", "vdi_update", "vdi_generate_config", "vdi_activate"] {
            try host.fails(XAPICall(command, location: host.location, sr: sr, vdi: ghost), 144)
        }
        try host.fails(XAPICall("vdi_resize", location: host.location, sr: sr, vdi: ghost, args: ["16777216"]), 144)
        try host.fails(XAPICall("vdi_attach", location: host.location, sr: sr, vdi: ghost, args: ["true"]), 144)
        // vdi_delete is idempotent: an unknown VDI is already deleted.
        #expect(try host.ok(XAPICall("vdi_delete", location: host.location, sr: sr, vdi: ghost)) == .nil)
    }

    @Test func badSizesAreVDISize() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        for size in ["0", "abc", "-1", "\(3 << 40)", ""] {
            try host.fails(XAPICall("vdi_create", location: host.location, sr: sr, args: XAPICall.createArgs(size: size)), 79)
        }
        #expect(host.images(sr).isEmpty)
        let vdi = try host.makeVDI(sr, size: 64 << 20)
        try host.fails(XAPICall("vdi_resize", location: host.location, sr: sr, vdi: vdi, args: ["\(32 << 20)"]), 79)
        try host.fails(XAPICall("vdi_resize", location: host.location, sr: sr, vdi: vdi, args: ["big"]), 79)
    }

    @Test func deepChainIsSnapshotChainTooLong() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        var snapshot = XAPICall("vdi_snapshot", location: host.location, sr: sr, vdi: vdi)
        snapshot.driverParams = [("type", "single")]
        for _ in 1..<30 { try host.ok(snapshot) }
        let r = try host.fails(snapshot, 109)
        #expect(r.faultString.contains("opterr="))
        try host.fails(XAPICall("vdi_clone", location: host.location, sr: sr, vdi: vdi), 109)
    }

    @Test func illegalXMLCharactersInLabelsAreRefused() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        for label in ["bad\u{1}label", "esc\u{1B}[31m"] {
            let r = try host.fails(XAPICall("vdi_create", location: host.location, sr: sr,
                                            args: XAPICall.createArgs(size: "1048576", label: label)), 447)
            #expect(r.faultString.contains("name_label"))
        }
        // As a character reference, and in the description.
        let text = XAPICall("vdi_create", location: host.location, sr: sr,
                            args: XAPICall.createArgs(size: "1048576", label: "x", description: "DESC")).text
        #expect(try host.runRaw([text.replacingOccurrences(of: "DESC", with: "a&#1;b")]).faultCode == 447)
        #expect(try host.runRaw([text.replacingOccurrences(of: "DESC", with: "a&#xFFFE;b")]).faultString.contains("name_description"))
        #expect(host.images(sr).isEmpty)
        // Legal non-ASCII and escaped markup are fine.
        _ = try host.makeVDI(sr, label: "disque été <1> & \u{1F600}")
    }

    @Test func masterOnlyCommandsRefuseOnSlaves() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        var create = XAPICall("vdi_create", location: host.location, sr: sr, args: XAPICall.createArgs(size: "1048576"))
        create.srMaster = false
        try host.fails(create, 202)
        create.srMaster = nil
        try host.fails(create, 202)
        for command in ["vdi_snapshot", "vdi_clone", "vdi_delete", "sr_scan"] {
            var call = XAPICall(command, location: host.location, sr: sr, vdi: vdi)
            call.srMaster = false
            try host.fails(call, 202)
        }
        #expect(host.images(sr) == [vdi + ".vhd"])
        // Commands every host runs work on a slave.
        var attach = XAPICall("sr_attach", location: host.location, sr: sr)
        attach.srMaster = false
        try host.ok(attach)
    }

    @Test func unknownDriverNameIsRefused() throws {
        let host = try PluginHost(linkName: "NoSuchSR")
        let r = try host.run(XAPICall("sr_get_driver_info"))
        #expect(r.status == 0)
        #expect(r.faultCode == 1)
        #expect(r.faultString.contains("NoSuchSR"))
        let bare = try PluginHost(linkName: "sm-plugin")
        #expect(try bare.run(XAPICall("sr_get_driver_info")).faultCode == 1)
    }

    @Test func identifiersThatAreNotUUIDsAreBadRequest() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        try host.fails(XAPICall("sr_attach", location: host.location, sr: "../escape"), 143)
        try host.fails(XAPICall("vdi_detach", location: host.location, sr: sr, vdi: "../../etc/passwd"), 143)
        try host.fails(XAPICall("vdi_delete", location: host.location, sr: sr, vdi: "x"), 143)
        try host.fails(XAPICall("sr_create", location: host.location, sr: sr, args: ["0"]), 42)
    }

    @Test func otherImageFormatsAreRefused() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        var raw = XAPICall("vdi_create", location: host.location, sr: sr, args: XAPICall.createArgs(size: "1048576"))
        raw.vdiSMConfig = [("type", "raw")]
        try host.fails(raw, 38)
        raw.vdiSMConfig = [("image-format", "qcow2")]
        try host.fails(raw, 38)
        #expect(host.images(sr).isEmpty)
    }

    @Test func nonEmptySRIsNotDeleted() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        _ = try host.makeVDI(sr)
        try host.fails(XAPICall("sr_delete", location: host.location, sr: sr), 39)
    }
}
