import Foundation
import Glibc
import Testing
import TestSupport

@testable import SREngine

/// sm-cli killed with SIGKILL in the middle of create, snapshot, clone, destroy and resize:
/// the next command finishes or undoes the operation, the SR scans consistent, every image
/// checks clean, and no VDI is leaked (an image nobody knows) or lost (a record without
/// an image, or the original's data).
@Suite struct KillTests {
    struct Scenario: Sendable {
        var args: @Sendable (_ vdi: String, _ snap: String, _ sr: String) -> [String]
        var steps: [String]
    }

    static let scenarios: [String: Scenario] = [
        "create": Scenario(args: { _, _, sr in ["vdi-create", "sr-uuid=\(sr)", "virtual-size=8MiB"] },
                           steps: ["create.journal", "create.image", "create.commit", "create.metadata", "create.done"]),
        "snapshot": Scenario(args: { v, _, _ in ["vdi-snapshot", "uuid=\(v)"] },
                             steps: ["snapshot.journal", "snapshot.link", "snapshot.leaf", "snapshot.commit",
                                     "snapshot.clone", "snapshot.hide", "snapshot.metadata", "snapshot.done"]),
        "clone": Scenario(args: { v, _, _ in ["vdi-clone", "uuid=\(v)"] },
                          steps: ["snapshot.link", "snapshot.commit", "snapshot.hide", "snapshot.metadata"]),
        "destroy": Scenario(args: { _, s, _ in ["vdi-destroy", "uuid=\(s)"] },
                            steps: ["destroy.journal", "destroy.unlink", "destroy.metadata", "destroy.done"]),
        "resize": Scenario(args: { v, _, _ in ["vdi-resize", "uuid=\(v)", "disk-size=32MiB"] },
                           steps: ["resize.journal", "resize.copy", "resize.commit", "resize.metadata", "resize.done"]),
    ]

    /// An SR with a VDI holding data and a snapshot of it.
    func prepare(_ s: CLISession) throws -> (sr: String, vdi: String, snap: String, data: Data) {
        let sr = try s.createSR()
        let v = try s.ok("vdi-create", "sr-uuid=\(sr)", "virtual-size=8MiB")
        let raw = s.dir.path + "/d.raw"
        let data = Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 / 4093) })
        FileManager.default.createFile(atPath: raw, contents: data)
        try s.ok("vdi-import", "uuid=\(v)", "filename=\(raw)")
        let snap = try s.ok("vdi-snapshot", "uuid=\(v)")
        return (sr, v, snap, data)
    }

    /// After a kill: recovery by the next command, a consistent SR, intact data.
    func expectRecovered(_ s: CLISession, _ p: (sr: String, vdi: String, snap: String, data: Data), before: Set<String>,
                         _ context: String) throws {
        let check = try s.run("sr-check", "uuid=\(p.sr)")
        #expect(check.status == 0, "\(context): \(check.out)\(check.err)")
        #expect(try s.run("sr-scan", "uuid=\(p.sr)").status == 0)
        let engine = try s.attach(p.sr)
        let report = try engine.verify()
        #expect(report.isConsistent, "\(context): \(report)")
        let after = Set(try engine.vdis().filter(\.managed).map(\.uuid))
        let grew = after.isSuperset(of: before) && after.count == before.count + 1
        let shrank = after.isSubset(of: before) && after.count == before.count - 1
        #expect(after == before || grew || shrank, "\(context): \(before) → \(after)")
        for vdi in [p.vdi, p.snap] where after.contains(vdi) {
            let out = s.dir.path + "/check.raw"
            try s.ok("vdi-export", "uuid=\(vdi)", "filename=\(out)")
            let back = try #require(FileManager.default.contents(atPath: out))
            #expect(back.prefix(p.data.count) == p.data, "\(context): data of \(vdi) changed")
        }
    }

    @Test(arguments: ["create", "snapshot", "clone", "destroy", "resize"])
    func killedAtEveryStep(op: String) throws {
        let scenario = try #require(Self.scenarios[op])
        for step in scenario.steps {
            let s = CLISession()
            let p = try prepare(s)
            let before = Set(try s.attach(p.sr).vdis().filter(\.managed).map(\.uuid))
            let r = try s.run(scenario.args(p.vdi, p.snap, p.sr), env: ["SM_KILL_AT_STEP": step])
            #expect(r.status == SIGKILL, "\(op) was to be killed at \(step): status \(r.status) \(r.err)")
            try expectRecovered(s, p, before: before, "\(op) killed at \(step)")
        }
    }

    /// Kills at random instants (seeded; the seed is in every message).
    @Test func killedAtRandomInstants() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["SM_KILL_SEED"] ?? "") ?? UInt64(time(nil))
        var rng = SeededGenerator(seed: seed)
        let s = CLISession()
        let p = try prepare(s)
        let ops = ["create", "snapshot", "clone", "destroy", "resize"]
        for round in 0..<10 {
            let engine = try s.attach(p.sr)
            let before = Set(try engine.vdis().filter(\.managed).map(\.uuid))
            let op = ops[Int(rng.next() % UInt64(ops.count))]
            // Destroy and snapshot a throwaway VDI so the shared data survives every round.
            let victim = try engine.createVDI(VDISpec(virtualSize: 8 << 20)).uuid
            let args = Self.scenarios[op]!.args(op == "destroy" ? victim : p.vdi, victim, p.sr)
            let delayMs = Int(rng.next() % 40)
            let proc = try s.start(args, env: ["SM_STEP_DELAY_US": "2000"])
            usleep(UInt32(delayMs * 1000))
            kill(proc.process.processIdentifier, SIGKILL)
            proc.process.waitUntilExit()
            try expectRecovered(s, p, before: before.union([victim]),
                                "seed \(seed) round \(round): \(op) killed after \(delayMs) ms (replay: SM_KILL_SEED=\(seed))")
        }
    }
}

