import Foundation
import Testing
import TestSupport

@testable import SREngine

/// Compose: a differencing leaf put on top of another VDI reads that VDI's data where it
/// has none of its own; a crash at any step is finished by the next attach.
@Suite struct VDIComposeTests {
    /// vdi2 (a leaf over an empty base, with one block of its own) and vdi1 (with data).
    func prepare(_ t: TestSR) throws -> (vdi1: String, vdi2: String) {
        let v1 = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20))
        try writeData(t.sr, v1.uuid, pattern(1 << 20, seed: 5, at: 0), at: 0)
        let v2 = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20))
        _ = try t.sr.snapshot(v2.uuid)
        try writeData(t.sr, v2.uuid, pattern(4096, seed: 6, at: 4 << 20), at: 4 << 20)
        return (v1.uuid, v2.uuid)
    }

    func expectComposed(_ sr: AttachedSR, _ v: (vdi1: String, vdi2: String), _ context: String) throws {
        try expectConsistent(sr, context)
        #expect(try sr.vdi(v.vdi2).parent == v.vdi1, "\(context)")
        #expect(try sr.vdi(v.vdi1).hidden, "\(context)")
        #expect(try readData(sr, v.vdi2, count: 1 << 20, at: 0) == pattern(1 << 20, seed: 5, at: 0), "\(context)")
        #expect(try readData(sr, v.vdi2, count: 4096, at: 4 << 20) == pattern(4096, seed: 6, at: 4 << 20), "\(context)")
    }

    @Test func theLeafReadsThroughItsNewParent() throws {
        let t = try TestSR()
        let v = try prepare(t)
        _ = try t.sr.composeVDI(v.vdi2, onto: v.vdi1)
        try expectComposed(t.sr, v, "composed")
        #expect(throws: SREngineError.self) { try t.sr.composeVDI(v.vdi1, onto: v.vdi2) }  // a loop
        let plain = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20))
        #expect(throws: SREngineError.self) { try t.sr.composeVDI(plain.uuid, onto: v.vdi2) }  // no parent
    }

    @Test func everyStepBoundaryIsFinishedOnAttach() throws {
        let learn = try TestSR()
        let v0 = try prepare(learn)
        let probe = StepProbe(crashAt: nil)
        _ = try learn.reattach(probe.options).composeVDI(v0.vdi2, onto: v0.vdi1)
        let steps = probe.names.withLock { $0 }
        #expect(steps.filter { $0.hasPrefix("compose.") }.count >= 4, "\(steps)")
        for crashAt in 0..<steps.count {
            let t = try TestSR()
            let v = try prepare(t)
            #expect(throws: SimulatedCrash.self) {
                try t.reattach(StepProbe(crashAt: crashAt).options).composeVDI(v.vdi2, onto: v.vdi1)
            }
            let recovered = try t.reattach()
            let context = "stopped before \(steps[crashAt]): \(recovered.recoveryLog)"
            if steps[crashAt] == "compose.journal" {  // before the journal: nothing happened
                try expectConsistent(recovered, context)
                #expect(try recovered.vdi(v.vdi2).parent != v.vdi1, "\(context)")
            } else {
                try expectComposed(recovered, v, context)
            }
        }
    }
}
