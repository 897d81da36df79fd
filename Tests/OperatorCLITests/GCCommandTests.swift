import Foundation
import Glibc
import ImageFormats
import StorageIO
import Testing
import TestSupport

@testable import SREngine

/// sm-cli sr-gc: a foreground run, its switches, and kill -9 of the collector at every step
/// boundary and at random instants. After each kill the next command finishes or rolls
/// back the interrupted merge: the SR checks consistent, every image checks clean, the
/// visible VDIs read as before, and a new run reaches the minimal tree.
@Suite struct GCCommandTests {
    struct Prepared {
        var sr: String
        var vdi: String
        var kept: String
        var vdiData: Data
        var keptData: Data
    }

    /// An SR with a coalesce and a leaf-coalesce to do: B0 ── {K, B1 ── B2 ── V}.
    /// Every layer holds written data, scattered over 24 MiB of a 32 MiB VDI.
    static func prepare(_ s: CLISession) throws -> Prepared {
        s.environment["SM_GC_KICK"] = "none"
        let sr = try s.createSR()
        let v = try s.ok("vdi-create", "sr-uuid=\(sr)", "virtual-size=32MiB")
        let raw = s.dir.path + "/d.raw"
        var data = Data(count: 24 << 20)
        func layer(_ seed: UInt8, every: Int) throws {
            for chunk in stride(from: 0, to: data.count, by: 512 << 10) where (chunk / (512 << 10)) % every == 0 {
                for i in stride(from: chunk, to: chunk + (512 << 10), by: 4096) { data[i] = seed; data[i + 1] = UInt8(i >> 12 & 0xFF) }
            }
            FileManager.default.createFile(atPath: raw, contents: data)
            try s.ok("vdi-import", "uuid=\(v)", "filename=\(raw)")
        }
        try layer(1, every: 1)
        let keptData = data
        let kept = try s.ok("vdi-snapshot", "uuid=\(v)")
        try layer(2, every: 3)
        let s1 = try s.ok("vdi-snapshot", "uuid=\(v)")
        try layer(3, every: 2)
        let s2 = try s.ok("vdi-snapshot", "uuid=\(v)")
        try layer(4, every: 5)
        try s.ok("vdi-destroy", "uuid=\(s1)")
        try s.ok("vdi-destroy", "uuid=\(s2)")
        s.environment["SM_GC_KICK"] = "synchronous"
        return Prepared(sr: sr, vdi: v, kept: kept, vdiData: data, keptData: keptData)
    }

    /// Consistent SR, clean images, the same visible data.
    static func expectIntact(_ s: CLISession, _ p: Prepared, _ context: String) throws {
        let check = try s.run("sr-check", "uuid=\(p.sr)")
        #expect(check.status == 0, "\(context): \(check.out)\(check.err)")
        let engine = try s.attach(p.sr)
        #expect(try engine.verify().isConsistent, "\(context)")
        #expect(Set(try engine.vdis().filter { !$0.hidden }.map(\.uuid)) == [p.vdi, p.kept], "\(context)")
        for (vdi, expected) in [(p.vdi, p.vdiData), (p.kept, p.keptData)] {
            let out = s.dir.path + "/check.raw"
            try s.ok("vdi-export", "uuid=\(vdi)", "filename=\(out)")
            let back = try #require(FileManager.default.contents(atPath: out))
            #expect(back.prefix(expected.count) == expected, "\(context): data of \(vdi) changed")
        }
        let names = try engine.repository.volumeNames()
        #expect(names.count == (try engine.vdis().count), "\(context): leftover files \(names)")
        // No space leaked: no image keeps an unreferenced tail (a copy cut short is repaired).
        let loop = try EventLoop()
        for name in names {
            let store = try LocalFile.open(engine.repository.path(of: name), on: loop, options: .init(readOnly: true))
            defer { store.close() }
            let check = VHDImage.check(store)
            #expect(check.isPerfect, "\(context): \(name): \(check)")
        }
    }

    @Test func foregroundRunQueryAndSwitches() throws {
        let s = CLISession()
        let p = try Self.prepare(s)
        let query = try s.ok("sr-gc", "uuid=\(p.sr)", "query=true")
        #expect(query.contains("\ncoalesce ") || query.hasPrefix("coalesce "), "\(query)")
        #expect(query.contains("leaf-coalesce \(p.vdi)"), "\(query)")
        try s.ok("sr-gc", "uuid=\(p.sr)", "enable=false")
        #expect(try s.ok("sr-gc", "uuid=\(p.sr)").contains("disabled"))
        #expect(try s.attach(p.sr).vdis().count == 5)
        try s.ok("sr-gc", "uuid=\(p.sr)", "enable=true")
        let out = try s.ok("sr-gc", "uuid=\(p.sr)")
        #expect(out.contains("coalesced ") && out.contains("leaf-coalesced \(p.vdi)") && out.contains("MiB/s"), "\(out)")
        #expect(try s.attach(p.sr).vdis().count == 3)  // B0 with K and V
        try Self.expectIntact(s, p, "after sr-gc")
        #expect(try s.ok("sr-gc", "uuid=\(p.sr)", "query=true") == "")
        // No space: reported as SRNoSpace, nothing changed.
        let q = CLISession()
        let p2 = try Self.prepare(q)
        try q.fails(["sr-gc", "uuid=\(p2.sr)"], name: "SRNoSpace", code: 44, env: ["SM_FAKE_FREE_BYTES": "1MiB"])
        try Self.expectIntact(q, p2, "no space")
    }

    /// `sr-gc abort=true` from another process stops a running collector; the merge it was
    /// in is rolled back and a later run completes it.
    @Test func abortFromAnotherProcess() throws {
        let s = CLISession()
        let p = try Self.prepare(s)
        let running = try s.start(["sr-gc", "uuid=\(p.sr)"], env: ["SM_STEP_DELAY_US": "400000"])
        usleep(300_000)
        try s.ok("sr-gc", "uuid=\(p.sr)", "abort=true")
        let out = String(decoding: running.out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        running.process.waitUntilExit()
        #expect(running.process.terminationStatus == 0 && out.contains("aborted"), "\(out)")
        #expect(try s.attach(p.sr).vdis().count == 5, "\(out)")
        try Self.expectIntact(s, p, "aborted")
        #expect(try s.ok("sr-gc", "uuid=\(p.sr)").contains("leaf-coalesced"))
        try Self.expectIntact(s, p, "aborted, then collected")
    }

    static let steps = ["coalesce.journal", "coalesce.copy", "coalesce.commit", "coalesce.relink", "coalesce.unlink",
                        "coalesce.metadata", "coalesce.done", "leaf-coalesce.journal", "leaf-coalesce.copy",
                        "leaf-coalesce.commit", "leaf-coalesce.unhide", "leaf-coalesce.metadata", "leaf-coalesce.done"]

    @Test(arguments: steps)
    func killedAtStep(step: String) throws {
        let s = CLISession()
        let p = try Self.prepare(s)
        let r = try s.run("sr-gc", "uuid=\(p.sr)", env: ["SM_KILL_AT_STEP": step])
        #expect(r.status == SIGKILL, "sr-gc was to be killed at \(step): status \(r.status) \(r.out) \(r.err)")
        try Self.expectIntact(s, p, "killed at \(step)")
        let again = try s.run("sr-gc", "uuid=\(p.sr)")
        #expect(again.status == 0, "\(again.err)")
        #expect(try s.attach(p.sr).vdis().count == 3, "after kill at \(step) and a new run: \(again.out)")
        try Self.expectIntact(s, p, "killed at \(step), then collected")
    }

    /// SIGKILL at random instants of a run (seeded; the seed is in every message).
    @Test func killedAtRandomInstants() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["SM_GC_KILL_SEED"] ?? "") ?? UInt64(time(nil))
        var rng = SeededGenerator(seed: seed)
        for round in 0..<6 {
            let s = CLISession()
            let p = try Self.prepare(s)
            let delayMs = Int(rng.next() % 400)
            let proc = try s.start(["sr-gc", "uuid=\(p.sr)"], env: ["SM_STEP_DELAY_US": "20000"])
            usleep(UInt32(delayMs * 1000))
            kill(proc.process.processIdentifier, SIGKILL)
            proc.process.waitUntilExit()
            let context = "seed \(seed) round \(round): killed after \(delayMs) ms (replay: SM_GC_KILL_SEED=\(seed))"
            try Self.expectIntact(s, p, context)
            #expect(try s.run("sr-gc", "uuid=\(p.sr)").status == 0, "\(context)")
            #expect(try s.attach(p.sr).vdis().count == 3, "\(context)")
            try Self.expectIntact(s, p, "\(context), then collected")
        }
    }
}
