import TestSupport
import Foundation
import Testing
import XMLRPC

/// scripts/install-sm-plugins.sh: the layout XAPI discovers (`<Name>SR` executables in the
/// SM directory) and a driver that answers through it.
@Suite struct InstallScriptTests {
    func install(_ dir: String, env extra: [String: String] = [:]) throws -> (Int32, String) {
        let products = try #require(productsDirectory)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [repositoryRoot + "/scripts/install-sm-plugins.sh", dir]
        var env = ProcessInfo.processInfo.environment
        env["SM_PLUGIN_BINARY"] = products + "/sm-plugin"
        env.merge(extra) { _, n in n }
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    @Test func installsBinaryAndFileSRLink() throws {
        let tmp = TempDir()
        let dir = tmp.path + "/opt/xensource/sm"
        let (status, err) = try install(dir, env: ["SM_TAPDISK_BINARY": "/nonexistent"])
        #expect(status == 0, "\(err)")
        #expect(FileManager.default.isExecutableFile(atPath: dir + "/sm-plugin"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/FileSR") == "sm-plugin")
        // What XAPI registers: executables whose name ends in SR.
        let drivers = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            $0.hasSuffix("SR") && FileManager.default.isExecutableFile(atPath: dir + "/" + $0)
        }
        #expect(Set(drivers) == ["FileSR", "NFSSR"])

        let p = Process()
        p.executableURL = URL(fileURLWithPath: dir + "/FileSR")
        p.arguments = [XAPICall("sr_get_driver_info").text]
        p.environment = ["PATH": "/usr/bin:/bin"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        guard case let .response(info) = try XMLRPCDecoder.decode(text) else { Issue.record("\(text)"); return }
        #expect(info["required_api_version"] == .string("1.0"))

        // Re-running is harmless; a foreign FileSR is kept aside, not destroyed.
        #expect(try install(dir).0 == 0)
        try FileManager.default.removeItem(atPath: dir + "/FileSR")
        try "#!/bin/sh\n".write(toFile: dir + "/FileSR", atomically: true, encoding: .utf8)
        #expect(try install(dir).0 == 0)
        #expect(FileManager.default.fileExists(atPath: dir + "/FileSR.orig"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/FileSR") == "sm-plugin")
    }

    @Test func refusesWithoutABinary() throws {
        let tmp = TempDir()
        let (status, err) = try install(tmp.path + "/sm", env: ["SM_PLUGIN_BINARY": tmp.path + "/missing"])
        #expect(status != 0)
        #expect(err.contains("no sm-plugin binary"))
    }
}
