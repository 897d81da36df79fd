import Foundation
import Testing

@testable import OperatorCLI
@testable import SREngine

/// sm-cli driven as a user would: the SR lifecycle, VDI commands, and every error path.
@Suite struct CommandLineTests {
    @Test func srLifecycle() throws {
        let s = CLISession()
        let sr = try s.createSR()
        #expect(UUIDText.isValid(sr))
        #expect(try s.ok("sr-probe", "device-config:location=\(s.location)").contains("<UUID>\(sr)</UUID>"))
        #expect(try s.ok("sr-list", "--minimal") == sr)
        let list = try s.ok("sr-list")
        #expect(list.contains("uuid ( RO)") && list.contains("name-label ( RW): t"))
        let params = try s.ok("sr-param-list", "uuid=\(sr)", "--json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(params.utf8)) as? [String: Any])
        #expect(json["virtual-allocation"] as? Int == 0 && (json["physical-size"] as? Int ?? 0) > 0)
        try s.ok("sr-param-set", "uuid=\(sr)", "name-label=renamed")
        #expect(try s.ok("sr-list", "params=name-label").contains("renamed"))

        // forget keeps the data; introduce brings the SR back with its VDIs.
        let v = try s.ok("vdi-create", "sr-uuid=\(sr)", "name-label=keep", "virtual-size=8MiB")
        try s.ok("sr-forget", "uuid=\(sr)")
        #expect(try s.ok("sr-list", "--minimal") == "")
        try s.fails(["vdi-param-list", "uuid=\(v)"], name: "VDIMissing", code: 144)
        #expect(try s.ok("sr-introduce", "uuid=\(sr)", "device-config:location=\(s.location)") == sr)
        #expect(try s.ok("vdi-param-list", "uuid=\(v)").contains("name-label ( RW): keep"))
        try s.fails(["sr-introduce", "uuid=\(sr)", "device-config:location=\(s.location)"], name: "SRExists", code: 42)

        try s.fails(["sr-destroy", "uuid=\(sr)"], name: "SRNotEmpty", code: 39)
        try s.ok("vdi-destroy", "uuid=\(v)")
        try s.ok("sr-destroy", "uuid=\(sr)")
        #expect(!FileManager.default.fileExists(atPath: "\(s.location)/\(sr)"))
        try s.fails(["sr-scan", "uuid=\(sr)"], name: "SRUnavailable", code: 47)
    }

    @Test func vdiCommands() throws {
        let s = CLISession()
        let sr = try s.createSR()
        let v = try s.ok("vdi-create", "sr-uuid=\(sr)", "name-label=disk", "virtual-size=2040GiB")
        #expect(UUIDText.isValid(v))
        #expect(try s.ok("vdi-param-list", "uuid=\(v)").contains("virtual-size ( RO): \(2040 << 30)"))
        let snap = try s.ok("vdi-snapshot", "uuid=\(v)", "new-name-label=snap")
        let clone = try s.ok("vdi-clone", "uuid=\(v)", "new-name-label=copy")
        let single = try s.ok("vdi-snapshot", "uuid=\(v)", "driver-params:type=single")
        let listJSON = try s.ok("vdi-list", "sr-uuid=\(sr)", "--json")
        let records = try #require(try JSONSerialization.jsonObject(with: Data(listJSON.utf8)) as? [[String: Any]])
        #expect(records.count == 6)  // v, snap, clone, single, and the two hidden base copies
        let byUUID = Dictionary(uniqueKeysWithValues: records.map { ($0["uuid"] as! String, $0) })
        #expect(byUUID[snap]?["is-a-snapshot"] as? Bool == true && byUUID[snap]?["snapshot-of"] as? String == v)
        #expect(byUUID[clone]?["is-a-snapshot"] as? Bool == false && byUUID[clone]?["name-label"] as? String == "copy")
        #expect(byUUID[single]?["read-only"] as? Bool == true)
        #expect(records.filter { $0["managed"] as? Bool == false }.count == 2)
        #expect(try s.ok("vdi-list", "sr-uuid=\(sr)", "is-a-snapshot=true", "--minimal").split(separator: ",").count == 2)
        try s.ok("vdi-resize", "uuid=\(clone)", "disk-size=2040GiB")
        try s.ok("vdi-param-set", "uuid=\(clone)", "name-label=renamed")
        #expect(try s.ok("vdi-list", "name-label=renamed", "--minimal") == clone)
        #expect(try s.ok("vdi-tree", "sr-uuid=\(sr)").contains("hidden base copy"))
        try s.ok("vdi-update", "uuid=\(v)")
        #expect(try s.ok("sr-scan", "uuid=\(sr)") == "")
        try s.ok("sr-check", "uuid=\(sr)")
        for u in [snap, clone, single, v] { try s.ok("vdi-destroy", "uuid=\(u)") }
        #expect(try s.ok("vdi-list", "sr-uuid=\(sr)", "--minimal") == "")
    }

    @Test func errorPaths() throws {
        let s = CLISession()
        try s.fails(["sr-create", "name-label=x"], name: "ConfigLocationMissing", code: 94)
        try s.fails(["sr-probe"], name: "ConfigLocationMissing", code: 94)
        let sr = try s.createSR()
        let unknown = UUIDText.random()
        try s.fails(["vdi-create", "sr-uuid=\(unknown)", "virtual-size=1GiB"], name: "SRUnavailable", code: 47)
        try s.fails(["sr-scan", "uuid=\(unknown)"], name: "SRUnavailable", code: 47)
        try s.fails(["vdi-destroy", "uuid=\(unknown)"], name: "VDIMissing", code: 144)
        try s.fails(["vdi-snapshot", "uuid=\(unknown)"], name: "VDIMissing", code: 144)
        try s.fails(["vdi-create", "sr-uuid=\(sr)", "virtual-size=2041GiB"], name: "VDISize", code: 79)
        try s.fails(["vdi-create", "sr-uuid=\(sr)", "virtual-size=2TiB"], name: "VDISize", code: 79)
        try s.fails(["vdi-create", "sr-uuid=\(sr)", "virtual-size=0"], name: "VDISize", code: 79)
        try s.fails(["vdi-create", "sr-uuid=\(sr)", "virtual-size=lots"], name: "InvalidArg", code: 1)
        try s.fails(["vdi-create", "sr-uuid=\(sr)"], name: "InvalidArg", code: 1)
        let v = try s.ok("vdi-create", "sr-uuid=\(sr)", "virtual-size=64MiB")
        try s.fails(["vdi-resize", "uuid=\(v)", "disk-size=32MiB"], name: "VDISize", code: 79)
        try s.fails(["vdi-snapshot", "uuid=\(v)", "driver-params:type=triple"], name: "InvalidArg", code: 1)
        // Thin: a 1 GiB VDI needs metadata only and fits in 5 MiB; a 2000 GiB one (4 MiB of BAT) does not.
        let thin = try s.run(["vdi-create", "sr-uuid=\(sr)", "virtual-size=1GiB"], env: ["SM_FAKE_FREE_BYTES": "5MiB"])
        #expect(thin.status == 0, "\(thin.err)")
        try s.ok("vdi-destroy", "uuid=\(thin.line)")
        try s.fails(["vdi-create", "sr-uuid=\(sr)", "virtual-size=2000GiB"], name: "SRNoSpace", code: 44,
                    env: ["SM_FAKE_FREE_BYTES": "5MiB"])
        try s.fails(["vdi-snapshot", "uuid=\(v)"], name: "SRNoSpace", code: 44, env: ["SM_FAKE_FREE_BYTES": "4MiB"])
        try s.fails(["sr-destroy", "uuid=\(sr)"], name: "SRNotEmpty", code: 39)
        let r = try s.run("vdi-destroy", "uuid=\(unknown)", "--json")
        #expect(r.err.contains("\"code\": 144") && r.status == 1)

        // A chain of 30 images refuses one more snapshot (SnapshotChainTooLong, 109).
        let engine = try s.attach(sr)
        for _ in 1..<SRLimits.chainDepthMax { _ = try engine.snapshot(v, type: .internal) }
        try s.fails(["vdi-snapshot", "uuid=\(v)"], name: "SnapshotChainTooLong", code: 109)
        try s.fails(["vdi-clone", "uuid=\(v)"], name: "SnapshotChainTooLong", code: 109)
        // A base copy is no VDI to snapshot or write.
        let base = try #require(try engine.vdi(v).parent)
        try s.fails(["vdi-snapshot", "uuid=\(base)"], name: "VDIUnavailable", code: 46)
        try s.fails(["vdi-resize", "uuid=\(base)", "disk-size=1GiB"], name: "VDIResize", code: 110)
    }
}
