import Foundation
import ImageFormats
import StorageIO
import Testing

@testable import SREngine

/// The collector's switches and refusals: disabled per SR, leaf-coalesce off, no space
/// (reported, not hit), abort, a VDI in use, one collector at a time.
@Suite struct CollectorControlTests {
    @Test func disabledPerSR() throws {
        let s = try Scenario()
        try s.t.sr.setGCEnabled(false)
        let before = try s.t.sr.vdis()
        let report = try s.t.sr.collectGarbage()
        #expect(report.disabled && report.removed.isEmpty && report.coalesced.isEmpty)
        #expect(try s.t.sr.vdis() == before)
        try s.t.sr.setGCEnabled(true)
        #expect(try s.t.sr.collectGarbage().remaining.isEmpty)
        try s.model.expectMatches(s.t.sr, "re-enabled")
    }

    @Test func leafCoalesceSwitchedOff() throws {
        let s = try Scenario()
        try s.t.sr.setSROtherConfig(GCConfigKey.leafCoalesce, "false")
        let report = try s.t.sr.collectGarbage()
        #expect(report.coalesced.count == 1 && report.leafCoalesced.isEmpty, "\(report)")
        #expect(report.skipped[s.vdi]?.contains("leaf-coalesce=false") == true, "\(report.skipped)")
        #expect(try s.t.sr.vdi(s.vdi).parent != nil)
        try expectConsistent(s.t.sr, "leaf-coalesce off")
        try s.model.expectMatches(s.t.sr, "leaf-coalesce off")
    }

    @Test func noSpaceIsReportedNotHit() throws {
        let s = try Scenario()
        let tight = try s.t.reattach(EngineOptions(freeSpace: .capped(freeBytes: 1 << 20)))
        let report = try tight.collectGarbage()
        guard case .noSpace? = report.noSpace else {
            Issue.record("no space expected: \(report)")
            return
        }
        #expect(report.coalesced.isEmpty && report.leafCoalesced.isEmpty)
        #expect(report.removed.count == 1)  // removing garbage needs no space
        try expectConsistent(tight, "no space")
        try s.model.expectMatches(tight, "no space")
    }

    @Test func abortStopsAndRollsBack() throws {
        let s = try Scenario()
        let sr = s.t.sr
        let report = try sr.collectGarbage { _ in try? sr.requestGCAbort() }
        #expect(report.aborted, "\(report)")
        #expect(report.coalesced.isEmpty && report.leafCoalesced.isEmpty, "\(report)")
        #expect(!FileManager.default.fileExists(atPath: sr.repository.gcAbortFlagPath))
        try expectConsistent(sr, "aborted")
        try s.model.expectMatches(sr, "aborted")
        let rest = try sr.collectGarbage()
        #expect(rest.remaining.isEmpty && rest.coalesced.count == 1 && rest.leafCoalesced.count == 1, "\(rest)")
        try s.model.expectMatches(sr, "after abort, collected")
    }

    @Test func inUseLeafIsLeftAlone() throws {
        let s = try Scenario()
        let handle = try s.t.sr.openData(s.vdi, writable: false)
        let report = try s.t.sr.collectGarbage()
        try handle.close()
        #expect(report.leafCoalesced.isEmpty && report.skipped[s.vdi]?.contains("in use") == true, "\(report)")
        #expect(report.coalesced.isEmpty)  // the coalesce relinks the leaf: it waits too
        #expect(try s.t.sr.collectGarbage().remaining.isEmpty)
        try s.model.expectMatches(s.t.sr, "after release")
    }

    /// A snapshot of the merged VDI's child taken during the copy: the child is replaced by
    /// a new base, and the commit relinks that base instead.
    @Test func childSnapshottedDuringTheCopy() throws {
        var s = try Scenario()
        let sr = s.t.sr
        var snapshot: String?
        let report = try sr.collectGarbage { p in
            if p.operation == "coalesce" && snapshot == nil { snapshot = try? sr.snapshot(s.vdi).uuid }
        }
        let snap = try #require(snapshot)
        s.model.disks[snap] = s.model.disks[s.vdi]
        // B2 into B1 (relinking the snapshot's new base B'), then B' into B1; V now has a sibling.
        #expect(report.coalesced.count == 2 && report.leafCoalesced.isEmpty, "\(report.coalesced) \(report.skipped)")
        #expect(try sr.vdis().count == 3, "B1 with V and the snapshot")
        try expectConsistent(sr, "snapshot during coalesce")
        try expectMinimal(sr, "snapshot during coalesce")
        try s.model.expectMatches(sr, "snapshot during coalesce")
    }

    /// A damaged image stops only the merges that touch it; the run goes on and ends.
    @Test func damagedImageIsSkipped() throws {
        let s = try Scenario()
        let sr = s.t.sr
        let merged = try #require(try sr.garbageCollectionPlan().coalesce.first).vdi
        let handle = try #require(FileHandle(forWritingAtPath: sr.repository.path(of: merged + ".vhd")))
        try handle.seek(toOffset: 512)
        handle.write(Data("garbage!".utf8))  // the header cookie
        try handle.close()
        let report = try sr.collectGarbage()
        #expect(report.removed.count == 1 && report.coalesced.isEmpty && report.leafCoalesced.isEmpty, "\(report)")
        #expect(report.skipped[merged] != nil, "\(report.skipped)")
        #expect(try sr.repository.journals().isEmpty)
    }

    @Test func oneCollectorAtATime() throws {
        let s = try Scenario()
        let lock = s.t.sr.repository.gcLock()
        #expect(try lock.acquire(timeout: 0))
        let report = try s.t.sr.collectGarbage()
        lock.release()
        #expect(report.alreadyRunning && report.removed.isEmpty)
    }

    /// Whole blocks in file order merge into reads of up to coalesceReadBytesMax.
    @Test func copyReadsAreLargeAndMerged() throws {
        let runs = (0..<16).map { b in
            AllocatedRun(virtual: UInt64(b) << 21, host: 8192 + UInt64(b) * ((2 << 20) + 4096), length: 2 << 20)
        }
        let groups = AllocatedCopy.groups(runs, alignment: 4096, fileSize: 1 << 40, readMax: UInt64(SRLimits.coalesceReadBytesMax))
        #expect(groups.count <= 6, "\(groups.map { $0.end - $0.start })")
        #expect(groups.allSatisfy { $0.end - $0.start <= UInt64(SRLimits.coalesceReadBytesMax) })
        #expect(groups.flatMap(\.runs) == runs)
    }

    /// The plan only: hidden parents are merged into, visible ones never.
    @Test func visibleParentIsNeverWritten() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: 4 << 20)).uuid
        let single = try t.sr.snapshot(v, type: .single).uuid  // visible read-only base
        let snap = try t.sr.snapshot(v).uuid                    // hidden base below it
        try t.sr.destroyVDI(snap)
        let plan = try t.sr.garbageCollectionPlan()
        #expect(plan.coalesce.isEmpty, "\(plan)")
        #expect(plan.leafCoalesce.map(\.vdi) == [v], "\(plan)")
        _ = try t.sr.collectGarbage()
        #expect(try t.sr.vdi(v).parent == single)
        try expectConsistent(t.sr, "visible parent")
    }
}
