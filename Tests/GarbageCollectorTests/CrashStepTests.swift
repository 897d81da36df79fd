import Foundation
import Synchronization
import Testing

@testable import SREngine
import TestSupport

/// The collector stopped before each of its steps (as if the process died there): the next
/// attach leaves a consistent SR with the same visible data and nothing leaked, and a new
/// run then completes the work.
@Suite struct CrashStepTests {
    @Test func everyStepBoundaryRecovers() throws {
        let original = try Scenario()
        let learn = try original.copy()
        Scenario.expectFullPlan(try learn.t.sr.garbageCollectionPlan())
        let probe = StepProbe(crashAt: nil)
        let report = try learn.t.reattach(probe.options).collectGarbage()
        #expect(report.removed.count == 1 && report.coalesced.count == 1 && report.leafCoalesced.count == 1, "\(report)")
        let steps = probe.names.withLock { $0 }
        for expected in ["destroy.unlink", "coalesce.copy", "coalesce.commit", "coalesce.relink", "coalesce.unlink",
                         "leaf-coalesce.copy", "leaf-coalesce.commit", "leaf-coalesce.unhide", "leaf-coalesce.done"] {
            #expect(steps.contains(expected), "\(steps)")
        }
        try expectConsistent(learn.t.sr, "complete run")
        try learn.model.expectMatches(learn.t.sr, "complete run")
        #expect(try learn.t.sr.vdis().count == 1)

        for crashAt in 0..<steps.count {
            let s = try original.copy()
            let context = "stopped before \(steps[crashAt]) (#\(crashAt))"
            #expect(throws: SimulatedCrash.self, "\(context)") {
                _ = try s.t.reattach(StepProbe(crashAt: crashAt).options).collectGarbage()
            }
            let recovered = try s.t.reattach()
            try expectConsistent(recovered, "\(context), recovered: \(recovered.recoveryLog)")
            try s.model.expectMatches(recovered, context)
            let rest = try recovered.collectGarbage()
            #expect(rest.remaining.isEmpty, "\(context): \(rest)")
            try expectConsistent(recovered, "\(context), then collected")
            try expectMinimal(recovered, context)
            try s.model.expectMatches(recovered, "\(context), then collected")
        }
    }
}
