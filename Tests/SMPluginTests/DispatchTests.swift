import TestSupport
import Foundation
import SREngine
import Testing
import XMLRPC

@testable import SMPlugin

/// The dispatch core without processes: a decoded call in, a response or fault out.
@Suite struct DispatchTests {
    let dir = TempDir()
    var location: String { dir.path + "/srs" }
    var environment: PluginEnvironment {
        PluginEnvironment(srType: "file", tapdiskPath: nil, runDirectory: dir.path + "/run")
    }

    func call(_ command: String, sr: String? = nil, vdi: String? = nil, args: [String] = [],
              master: Bool = true) -> PluginCall {
        var c = PluginCall(command: command)
        c.deviceConfig = ["SRmaster": master ? "true" : "false", "location": location]
        c.srUUID = sr
        c.vdiUUID = vdi
        c.vdiLocation = vdi
        c.args = args
        return c
    }

    func handle(_ c: PluginCall) -> XMLRPCMessage { CommandDispatch.handle(c, environment: environment).message }

    func result(_ c: PluginCall, sourceLocation: SourceLocation = #_sourceLocation) throws -> XMLRPCValue {
        let m = handle(c)
        guard case let .response(v) = m else {
            Issue.record("\(c.command): \(m)", sourceLocation: sourceLocation)
            throw PluginError.badRequest("unexpected fault")
        }
        return v
    }

    func code(_ c: PluginCall) -> Int? { if case let .fault(code, _) = handle(c) { code } else { nil } }

    @Test func snapshotTypesFollowDriverParams() throws {
        let sr = UUIDText.random()
        #expect(try result(call("sr_create", sr: sr, args: ["0"])) == .nil)
        let vdi = try #require(try result(call("vdi_create", sr: sr, args: XAPICall.createArgs(size: "4194304")))["uuid"]?.stringValue)
        let engine = try SRManager().attach(uuid: sr, type: "file", deviceConfig: ["location": location])

        var single = call("vdi_snapshot", sr: sr, vdi: vdi)
        single.driverParams = ["type": "single"]
        let base = try #require(try result(single)["uuid"]?.stringValue)
        let baseRecord = try engine.vdi(base)
        #expect(baseRecord.readOnly && !baseRecord.hidden && baseRecord.isASnapshot && baseRecord.snapshotOf == vdi)

        var internalSnapshot = call("vdi_snapshot", sr: sr, vdi: vdi)
        internalSnapshot.driverParams = ["type": "internal"]
        let hidden = try #require(try result(internalSnapshot)["uuid"]?.stringValue)
        #expect(try engine.vdi(hidden).hidden)

        let double = try #require(try result(call("vdi_snapshot", sr: sr, vdi: vdi))["uuid"]?.stringValue)
        let d = try engine.vdi(double)
        #expect(d.isASnapshot && !d.hidden && d.snapshotOf == vdi)
        let clone = try #require(try result(call("vdi_clone", sr: sr, vdi: vdi))["uuid"]?.stringValue)
        #expect(try !engine.vdi(clone).isASnapshot)
        // The original is still the writable leaf.
        #expect(try !engine.vdi(vdi).readOnly)
    }

    @Test func generalFailuresBecomeTheCommandsError() {
        let e = SREngineError.system(operation: "open", path: "/x", errno: EACCES)
        #expect(CommandDispatch.mapped(e, command: "vdi_create").code == 78)
        #expect(CommandDispatch.mapped(e, command: "vdi_snapshot").code == 82)
        #expect(CommandDispatch.mapped(e, command: "vdi_clone").code == 81)
        #expect(CommandDispatch.mapped(e, command: "sr_scan").code == 40)
        #expect(CommandDispatch.mapped(e, command: "sr_attach").code == 202)
        #expect(CommandDispatch.mapped(e, command: "vdi_create").message.contains("open /x"))
        // Specific errors keep their own code.
        #expect(CommandDispatch.mapped(SREngineError.vdiNotFound(uuid: "u"), command: "vdi_create").code == 144)
    }

    @Test func unimplementedAndMasterOnly() {
        #expect(code(call("vdi_enable_cbt", sr: "s", master: false)) == 38)
        #expect(code(call("vdi_create", sr: "s", args: ["1"], master: false)) == 202)
        #expect(code(call("sr_scan", sr: UUIDText.random(), master: false)) == 202)
    }

    @Test func attachWithoutDaemonIsVDIUnavailable() throws {
        let sr = UUIDText.random()
        _ = try result(call("sr_create", sr: sr, args: ["0"]))
        let vdi = try #require(try result(call("vdi_create", sr: sr, args: XAPICall.createArgs(size: "4194304")))["uuid"]?.stringValue)
        let m = handle(call("vdi_attach", sr: sr, vdi: vdi, args: ["true"]))
        guard case let .fault(code, string) = m else { Issue.record("\(m)"); return }
        #expect(code == 46)
        #expect(string.contains("sm-tapdisk"))
        // Detach of something never attached is fine (idempotent).
        #expect(try result(call("vdi_detach", sr: sr, vdi: vdi)) == .nil)
        #expect(try result(call("vdi_deactivate", sr: sr, vdi: vdi)) == .nil)
    }

    @Test func probeXMLIsXenServersSRlist() {
        #expect(ProbeXML.srList(["a", "b"])
                == "<?xml version=\"1.0\" ?>\n<SRlist>\n\t<SR>\n\t\t<UUID>a</UUID>\n\t</SR>\n\t<SR>\n\t\t<UUID>b</UUID>\n\t</SR>\n</SRlist>\n")
        #expect(ProbeXML.srList([]) == "<?xml version=\"1.0\" ?>\n<SRlist>\n</SRlist>\n")
    }
}
