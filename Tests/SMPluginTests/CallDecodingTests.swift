import Foundation
import SMErrors
import Testing
import XMLRPC

@testable import SMPlugin

/// The call decoding and argv checks, in process: XAPI's dialect in, typed fields or a
/// BadRequest / IllegalXMLChar out.
@Suite struct CallDecodingTests {
    func decode(_ text: String) throws -> PluginCall { try PluginInvocation.decode(["/opt/xensource/sm/FileSR", text]) }

    @Test func readsEveryMemberXAPISends() throws {
        var x = XAPICall("vdi_create", location: "/srv", sr: "11111111-2222-3333-4444-555555555555",
                         vdi: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", args: XAPICall.createArgs(size: "1024", label: "a&b<c>"))
        x.vdiType = "user"
        x.vdiSMConfig = [("image-format", "vhd")]
        x.driverParams = [("type", "single")]
        x.newUUID = ""
        x.subtaskOf = "OpaqueRef:task"
        let call = try decode(x.text)
        #expect(call.command == "vdi_create")
        #expect(call.hostRef == x.hostRef && call.sessionRef == x.sessionRef)
        #expect(call.deviceConfig == ["SRmaster": "true", "location": "/srv"])
        #expect(call.driverConfig == ["location": "/srv"])
        #expect(call.isMaster)
        #expect(call.srUUID == x.srUUID && call.vdiUUID == x.vdiUUID && call.vdiLocation == x.vdiLocation)
        #expect(call.args == x.args)
        #expect(call.args[1] == "a&b<c>")
        #expect(call.args[3] == "")
        #expect(call.vdiType == "user" && call.vdiSMConfig == ["image-format": "vhd"])
        #expect(call.driverParams == ["type": "single"])
        #expect(call.newUUID == "" && call.subtaskOf == "OpaqueRef:task")
    }

    @Test func slaveAndMissingSRmasterAreNotMaster() throws {
        var x = XAPICall("sr_scan", location: "/srv", sr: "s")
        x.srMaster = false
        #expect(try !decode(x.text).isMaster)
        x.srMaster = nil
        #expect(try !decode(x.text).isMaster)
    }

    @Test func malformedArgvIsBadRequest() {
        let cases: [[String]] = [["/sm/FileSR"], ["/sm/FileSR", "a", "b"], ["/sm/FileSR", "<methodCall>"], ["/sm/FileSR", "x"]]
        for argv in cases {
            #expect(throws: PluginError.self) { try PluginInvocation.decode(argv) }
            let outcome = PluginInvocation.run(arguments: argv, environment: [:])
            guard case let .fault(code, _) = outcome.message else { Issue.record("\(argv)"); continue }
            #expect(code == 143)
            #expect(!outcome.diagnostics.isEmpty)
        }
    }

    @Test func illegalCharactersAreFoundRawOrAsReferences() {
        let raw = IllegalCharacterScreen.screen("<a>x\u{1}y</a>")
        #expect(raw.replaced == [1])
        #expect(raw.text == "<a>x\u{10FFFD}y</a>")
        #expect(IllegalCharacterScreen.screen("<a>&#27;&#x1b;&#xD800;&#65;&amp;</a>").replaced == [27, 0x1B, 0xD800])
        #expect(IllegalCharacterScreen.screen("<a>&#9;&#xA;&#x10FFFF;</a>").replaced.isEmpty)
        // A document already holding the marker is passed through untouched.
        let marked = "<a>\u{10FFFD}\u{1}</a>"
        #expect(IllegalCharacterScreen.screen(marked).text == marked)
    }

    @Test func illegalLabelIsIllegalXMLCharNamingTheField() {
        let x = XAPICall("vdi_create", location: "/srv", sr: "s", args: XAPICall.createArgs(size: "1", label: "a\u{7}"))
        #expect(throws: PluginError.illegalXMLChar(field: "name_label (args[1])", scalar: 7)) { try decode(x.text) }
        var y = XAPICall("sr_probe", location: "/sr\u{2}v")
        y.srSMConfig = []
        #expect(throws: PluginError.illegalXMLChar(field: "device_config.location", scalar: 2)) { try decode(y.text) }
    }

    @Test func executableNameSelectsTheType() {
        #expect(PluginEnvironment.srType(forExecutable: "/opt/xensource/sm/FileSR") == "file")
        #expect(PluginEnvironment.srType(forExecutable: "FileSR") == "file")
        #expect(PluginEnvironment.srType(forExecutable: "/opt/xensource/sm/NFSSR") == "nfs")
        #expect(PluginEnvironment.srType(forExecutable: "/opt/xensource/sm/LVMoISCSISR") == nil)
        #expect(PluginEnvironment.srType(forExecutable: "/x/sm-plugin") == nil)
        #expect(PluginEnvironment.srType(forExecutable: "SR") == nil)
        let outcome = PluginInvocation.run(arguments: ["/x/sm-plugin", XAPICall("sr_get_driver_info").text], environment: [:])
        #expect(outcome.message == .fault(code: 1, string: PluginError.unknownDriverName("sm-plugin").smError.message))
    }

    @Test func errorCodesAreXenServers() {
        #expect(PluginError.badRequest("x").smError.code == 143)
        #expect(PluginError.unimplemented(command: "x").smError.code == 38)
        #expect(PluginError.illegalXMLChar(field: "f", scalar: 1).smError.message.contains("U+0001"))
        #expect(SMErrorTable.map(PluginError.illegalXMLChar(field: "f", scalar: 1)).code == 447)
    }
}
