import Foundation
import Testing

@testable import SREngine

/// sm-cli's default: operations that leave work start `sm-gc` detached and return at once;
/// the worker refills the blank pool and collects the garbage, then exits.
@Suite struct BackgroundKickTests {
    /// Polls `done` every 50 ms for at most `seconds`.
    func eventually(_ seconds: Double, _ done: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try done() { return true }
            usleep(50_000)
        }
        return try done()
    }

    /// sm-gc processes working on `sr` (their command line names it).
    func workers(_ sr: String) -> [Int32] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        return pids.filter { pid in
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let text = String(decoding: cmdline, as: UTF8.self)
            return text.contains("sm-gc") && text.contains(sr)
        }
    }

    @Test func destroyAndSnapshotKickTheWorker() throws {
        let s = CLISession()
        s.environment["SM_GC_KICK"] = nil  // the default: background
        let sr = try s.createSR()
        let v = try s.ok("vdi-create", "sr-uuid=\(sr)", "virtual-size=16MiB")
        let snap = try s.ok("vdi-snapshot", "uuid=\(v)")
        let engine = try s.attach(sr)
        #expect(try eventually(30) { try engine.blankNames().count == SRLimits.blankPoolTarget },
                "the snapshot's kick refills the blank pool")

        // The snapshot's base copy becomes garbage-then-coalescible once the snapshot goes.
        try s.ok("vdi-destroy", "uuid=\(snap)")
        #expect(try eventually(30) { try engine.vdis().count == 1 }, "the worker collects the chain")
        #expect(eventually(30) { workers(sr).isEmpty }, "the worker exits when done")
        try #require(try engine.verify().isConsistent)
        let log = try String(contentsOfFile: "\(s.location)/\(sr)/.sm/lock/\(sr)/gc.log", encoding: .utf8)
        #expect(log.contains("collected"), "\(log)")
    }
}
