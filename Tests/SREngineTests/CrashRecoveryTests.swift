import Foundation
import Synchronization
import Testing

@testable import SREngine
import TestSupport

/// Every multi-step operation, stopped before each of its steps (as if the process died
/// there), leaves an SR that the next attach brings back to a consistent state: the
/// operation either did not happen or fully happened, no image without a record, no
/// record without an image, every image checks clean, and the original data is intact.
@Suite struct CrashRecoveryTests {
    enum Op: String, CaseIterable {
        case create, snapshot, single, clone, destroy, destroyWithBase, resize
    }

    /// Prepares an SR with a VDI holding data and one snapshot; returns the VDI. With
    /// `blanks`, the blank pool is full, so new images are personalised blanks.
    func prepare(_ t: TestSR, blanks: Bool) throws -> (vdi: String, snap: String) {
        let v = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20, nameLabel: "disk"))
        try writeData(t.sr, v.uuid, pattern(64 << 10, seed: 9, at: 0), at: 0)
        let s = try t.sr.snapshot(v.uuid)
        if blanks { #expect(try t.sr.refillBlanks() == SRLimits.blankPoolTarget) }
        return (v.uuid, s.uuid)
    }

    func run(_ op: Op, on sr: AttachedSR, vdi: String, snap: String) throws {
        switch op {
        case .create: _ = try sr.createVDI(VDISpec(virtualSize: 4 << 20))
        case .snapshot: _ = try sr.snapshot(vdi)
        case .single: _ = try sr.snapshot(vdi, type: .single)
        case .clone: _ = try sr.snapshot(vdi, clone: true)
        case .destroy: try sr.destroyVDI(vdi)
        case .destroyWithBase: try sr.destroyVDI(snap)
        case .resize: _ = try sr.resizeVDI(vdi, to: 64 << 20)
        }
    }

    @Test(arguments: Op.allCases, [false, true])
    func everyStepBoundaryRecovers(op: Op, blanks: Bool) throws {
        // Learn the steps.
        let learn = try TestSR()
        let (v0, s0) = try prepare(learn, blanks: blanks)
        let probe = StepProbe(crashAt: nil)
        try run(op, on: try learn.reattach(probe.options), vdi: v0, snap: s0)
        let steps = probe.names.withLock { $0 }
        #expect(steps.count >= 3, "\(op): \(steps)")

        for crashAt in 0..<steps.count {
            let t = try TestSR()
            let (v, s) = try prepare(t, blanks: blanks)
            let before = Set(try t.sr.vdis().filter(\.managed).map(\.uuid))
            let crashing = StepProbe(crashAt: crashAt)
            #expect(throws: SimulatedCrash.self, "\(op) at \(steps[crashAt])") {
                try run(op, on: try t.reattach(crashing.options), vdi: v, snap: s)
            }
            let recovered = try t.reattach()
            let context = "\(op) stopped before \(steps[crashAt]): \(recovered.recoveryLog)"
            try expectConsistent(recovered, context)
            let after = Set(try recovered.vdis().filter(\.managed).map(\.uuid))
            switch op {
            case .create, .snapshot, .clone, .single:
                #expect(after == before || (after.isSuperset(of: before) && after.count == before.count + 1), "\(context)")
            case .destroy:
                #expect(after == before || after == before.subtracting([v]), "\(context)")
            case .destroyWithBase:
                #expect(after == before || after == before.subtracting([s]), "\(context)")
            case .resize:
                #expect(after == before)
                let size = try recovered.vdi(v).virtualSize
                #expect(size == 8 << 20 || size == 64 << 20, "\(context)")
            }
            if after.contains(v) {
                #expect(try readData(recovered, v, count: 64 << 10, at: 0) == pattern(64 << 10, seed: 9, at: 0), "\(context)")
            }
            if after.contains(s) {
                #expect(try readData(recovered, s, count: 64 << 10, at: 0) == pattern(64 << 10, seed: 9, at: 0), "\(context)")
            }
        }
    }
}
