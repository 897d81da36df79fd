import Foundation
import Glibc
import SREngine
import Testing
import TestSupport

/// The SMAPIv1 plugin as XAPI runs it for an NFS SR: `sm-plugin` invoked as `NFSSR` with
/// one methodCall, against a real server.
extension NFSServerTests {
@Suite struct NFSPluginTests {
    /// An SM directory with the `NFSSR` link, and the plugin run as XAPI execs it.
    struct Plugin {
        let dir: TempDir
        var executable: String { dir.path + "/sm/NFSSR" }

        init() throws {
            dir = TempDir(prefix: "nfsplugin")
            let products = try #require(productsDirectory(containing: "sm-plugin"), "sm-plugin is not built")
            try FileManager.default.createDirectory(atPath: dir.path + "/sm", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: executable, withDestinationPath: products + "/sm-plugin")
        }

        func run(_ call: XAPICall) throws -> (out: String, err: String) {
            let r = try runProcess(executable, [call.text], environment: [
                "PATH": "/usr/bin:/bin", "ORIGINATOR": "SM", "SM_RUN_DIR": dir.path + "/run",
                "SM_LOCK_DIR": dir.path + "/locks", "SM_GC_KICK": "none", "SM_TAPDISK": "/nonexistent",
            ])
            #expect(r.status == 0, "the plugin exits 0 whatever the outcome")
            return (r.out, r.err)
        }

        /// A call XAPI would make (no session: nothing to mirror into).
        func call(_ command: String, _ deviceConfig: [String: String], sr: String? = nil, args: [String] = []) -> XAPICall {
            var c = XAPICall(command, sr: sr, args: args)
            c.sessionRef = nil
            c.deviceConfig = deviceConfig.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            return c
        }
    }

    @Test func probeCreateAndVDICreateThroughThePlugin() throws {
        let dir = TempDir(prefix: "nfs")
        let server = try GaneshaServer.start(in: dir.path)
        defer { server.stop() }
        let plugin = try Plugin()

        // Without serverpath: ConfigServerPathMissing, the exports on stderr as XenServer prints them.
        let exports = try plugin.run(plugin.call("sr_probe", server.deviceConfig(serverPath: nil)))
        #expect(exports.out.contains("<int>101</int>") && exports.out.contains("The server path argument is missing"),
                "\(exports.out)")
        #expect(exports.err == """
            <?xml version="1.0" ?>
            <nfs-exports>
            \t<Export>
            \t\t<Target>127.0.0.1</Target>
            \t\t<Path>/export</Path>
            \t\t<Accesslist>*</Accesslist>
            \t</Export>
            </nfs-exports>

            """)

        let config = server.deviceConfig()
        let none = try plugin.run(plugin.call("sr_probe", config))
        #expect(none.out.contains("&lt;SRlist&gt;") && !none.out.contains("&lt;SR&gt;"), "no SR yet: \(none.out)")

        let sr = UUIDText.random()
        let created = try plugin.run(plugin.call("sr_create", config, sr: sr, args: ["0"]))
        #expect(!created.out.contains("<fault>"), "sr_create: \(created.out) \(created.err)")
        #expect(FileManager.default.fileExists(atPath: "\(server.exportDirectory)/\(sr)"), "serverpath/<sr-uuid>/")
        let found = try plugin.run(plugin.call("sr_probe", config))
        #expect(found.out.contains("&lt;UUID&gt;\(sr)&lt;/UUID&gt;"), "the probe finds the SR: \(found.out)")

        let vdi = try plugin.run(plugin.call("vdi_create", config, sr: sr, args: XAPICall.createArgs(size: "16777216")))
        #expect(!vdi.out.contains("<fault>"), "vdi_create: \(vdi.out) \(vdi.err)")
        let uuid = try #require(vdi.out.range(of: #"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#,
                                              options: .regularExpression).map { String(vdi.out[$0]) })
        #expect(FileManager.default.fileExists(atPath: "\(server.exportDirectory)/\(sr)/\(uuid).vhd"), "\(vdi.out)")

        let scan = try plugin.run(plugin.call("sr_scan", config, sr: sr))
        #expect(!scan.out.contains("<fault>"), "sr_scan: \(scan.out)")
    }
}
}
