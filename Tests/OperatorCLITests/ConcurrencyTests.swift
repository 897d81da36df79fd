import Foundation
import Synchronization
import Testing

@testable import SREngine

/// Eight sm-cli processes at once on one SR: creating, snapshotting, cloning, destroying.
/// Afterwards every record matches an image and every image checks clean.
@Suite struct ConcurrencyTests {
    @Test func eightProcessesOnOneSR() throws {
        let s = CLISession()
        let sr = try s.createSR()
        let shared = try s.ok("vdi-create", "sr-uuid=\(sr)", "name-label=shared", "virtual-size=16MiB")
        let failures = Mutex<[String]>([])
        let kept = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            func run(_ args: String...) -> String? {
                guard let r = try? s.run(args) else { return nil }
                if r.status != 0 { failures.withLock { $0.append("\(worker) \(args): \(r.err)") }; return nil }
                return r.line
            }
            for round in 0..<2 {
                guard let v = run("vdi-create", "sr-uuid=\(sr)", "name-label=w\(worker)r\(round)", "virtual-size=8MiB"),
                      let snap = run("vdi-snapshot", "uuid=\(v)"),
                      let clone = run("vdi-clone", "uuid=\(snap)"),
                      let sharedSnap = run("vdi-snapshot", "uuid=\(shared)", "driver-params:type=single") else { return }
                _ = run("vdi-destroy", "uuid=\(snap)")
                _ = run("vdi-destroy", "uuid=\(sharedSnap)")
                kept.withLock { $0 += [v, clone] }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let check = try s.run("sr-check", "uuid=\(sr)")
        #expect(check.status == 0, "\(check.out)\(check.err)")
        let engine = try s.attach(sr)
        try #require(try engine.verify().isConsistent)
        let managed = Set(try engine.vdis().filter(\.managed).map(\.uuid))
        #expect(managed == Set(kept.withLock { $0 } + [shared]))
    }
}
