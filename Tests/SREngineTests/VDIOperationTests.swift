import Foundation
import ImageFormats
import StorageIO
import Testing

@testable import SREngine

/// Create, snapshot, clone, resize, destroy, scan, with XenServer's semantics.
@Suite struct VDIOperationTests {
    @Test func createIsThinAndValidated() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: SRLimits.vdiSizeMax, nameLabel: "big"))
        #expect(v.virtualSize == SRLimits.vdiSizeMax)
        #expect(v.physicalUtilisation < 8 << 20, "a 2040 GiB VDI holds metadata only")
        #expect(v.smConfig["vdi_type"] == "vhd")
        let small = try t.sr.createVDI(VDISpec(virtualSize: 1))
        #expect(small.virtualSize == 2 << 20)
        #expect(throws: SREngineError.self) { try t.sr.createVDI(VDISpec(virtualSize: 2 << 40)) }
        #expect(throws: SREngineError.vdiExists(uuid: v.uuid)) { try t.sr.createVDI(VDISpec(virtualSize: 4 << 20), uuid: v.uuid) }
        #expect(throws: SREngineError.self) { try t.sr.createVDI(VDISpec(virtualSize: 4 << 20, nameLabel: "bad\u{1}")) }
        let stats = try t.sr.update()
        #expect(stats.virtualAllocation == SRLimits.vdiSizeMax + (2 << 20))
        try expectConsistent(t.sr)
    }

    @Test func doubleSnapshotMakesAHiddenBaseCopy() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: 16 << 20, nameLabel: "disk"))
        let a = pattern(1 << 20, seed: 1, at: 0)
        try writeData(t.sr, v.uuid, a, at: 0)
        let s = try t.sr.snapshot(v.uuid)
        let b = pattern(1 << 20, seed: 2, at: 0)
        try writeData(t.sr, v.uuid, b, at: 0)

        let records = Dictionary(uniqueKeysWithValues: try t.sr.vdis().map { ($0.uuid, $0) })
        #expect(records.count == 3)
        let original = try #require(records[v.uuid])
        let base = try #require(original.parent.flatMap { records[$0] })
        #expect(base.hidden && !base.managed && base.readOnly && base.nameLabel == "base copy")
        #expect(s.parent == base.uuid && s.isASnapshot && s.snapshotOf == v.uuid && !s.snapshotTime.isEmpty)
        #expect(s.nameLabel == "disk" && s.virtualSize == v.virtualSize)
        #expect(try readData(t.sr, s.uuid, count: a.count, at: 0) == a)
        #expect(try readData(t.sr, v.uuid, count: b.count, at: 0) == b)
        #expect(try readData(t.sr, base.uuid, count: a.count, at: 0) == a)
        #expect(s.physicalUtilisation < 1 << 20, "O(1): the snapshot holds no data")
        // The base is hidden in the image too, and refused as a source.
        let probe = try VHDImage.open(LocalFile.open(t.imagePath(base.uuid), on: EventLoop(), options: .init(readOnly: true)), readOnly: true)
        #expect(probe.isHidden)
        #expect(throws: SREngineError.self) { try t.sr.snapshot(base.uuid) }
        #expect(throws: SREngineError.self) { try t.sr.openData(base.uuid, writable: true) }
        try expectConsistent(t.sr)
    }

    @Test func cloneSingleAndInternalVariants() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20, nameLabel: "disk"))
        let c = try t.sr.snapshot(v.uuid, clone: true, nameLabel: "copy")
        #expect(!c.isASnapshot && c.snapshotOf.isEmpty && c.nameLabel == "copy" && !c.readOnly)
        let single = try t.sr.snapshot(v.uuid, type: .single)
        #expect(!single.hidden && single.managed && single.readOnly && single.isASnapshot)
        #expect(try t.sr.vdi(v.uuid).parent == single.uuid)
        let hiddenBase = try t.sr.snapshot(v.uuid, type: .internal)
        #expect(hiddenBase.hidden && !hiddenBase.managed)
        // A read-only VDI does not change: its clone is simply a child of it.
        let before = try t.sr.vdis().count
        let child = try t.sr.snapshot(single.uuid, clone: true)
        let count = try t.sr.vdis().count
        #expect(child.parent == single.uuid && count == before + 1)
        try expectConsistent(t.sr)
    }

    @Test func chainDepthIsLimited() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: 4 << 20))
        for _ in 1..<SRLimits.chainDepthMax { _ = try t.sr.snapshot(v.uuid, type: .internal) }
        let meta = try t.sr.withSRLock { try t.sr.metadata() }
        #expect(meta.chainDepth(of: v.uuid) == SRLimits.chainDepthMax)
        #expect(throws: SREngineError.chainTooLong(uuid: v.uuid, depth: SRLimits.chainDepthMax)) {
            try t.sr.snapshot(v.uuid)
        }
        try expectConsistent(t.sr)
    }

    @Test func resizeGrowsKeepingDataAndRefusesShrink() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20))
        let a = pattern(64 << 10, seed: 3, at: 4 << 20)
        try writeData(t.sr, v.uuid, a, at: 4 << 20)
        _ = try t.sr.snapshot(v.uuid)
        let b = pattern(4096, seed: 4, at: 0)
        try writeData(t.sr, v.uuid, b, at: 0)
        let grown = try t.sr.resizeVDI(v.uuid, to: 600 << 20)
        #expect(grown.virtualSize == 600 << 20)
        #expect(try readData(t.sr, v.uuid, count: a.count, at: 4 << 20) == a, "parent data still shows through")
        #expect(try readData(t.sr, v.uuid, count: b.count, at: 0) == b)
        #expect(try readData(t.sr, v.uuid, count: 4096, at: 599 << 20) == [UInt8](repeating: 0, count: 4096))
        try writeData(t.sr, v.uuid, b, at: 599 << 20)
        #expect(throws: SREngineError.self) { try t.sr.resizeVDI(v.uuid, to: 8 << 20) }
        let base = try #require(try t.sr.vdi(v.uuid).parent)
        #expect(throws: SREngineError.self) { try t.sr.resizeVDI(base, to: 1 << 30) }
        try expectConsistent(t.sr)
    }

    @Test func destroyCollectsBaseCopiesNoLongerNeeded() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20))
        let s1 = try t.sr.snapshot(v.uuid)
        let s2 = try t.sr.snapshot(v.uuid)
        #expect(try t.sr.vdis().count == 5)
        try t.sr.destroyVDI(s1.uuid)
        try t.sr.destroyVDI(v.uuid)
        // s2's chain still needs both bases.
        #expect(try t.sr.vdis().count == 3)
        try t.sr.destroyVDI(s2.uuid)
        #expect(try t.sr.vdis().isEmpty)
        #expect(try t.sr.repository.volumeNames().isEmpty)
        #expect(throws: SREngineError.vdiNotFound(uuid: v.uuid)) { try t.sr.destroyVDI(v.uuid) }
        // A VDI others depend on becomes a hidden base copy.
        let w = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20))
        let single = try t.sr.snapshot(w.uuid, type: .single)
        try t.sr.destroyVDI(single.uuid)
        #expect(try t.sr.vdi(single.uuid).hidden)
        try t.sr.destroyVDI(w.uuid)
        #expect(try t.sr.vdis().isEmpty)
        try expectConsistent(t.sr)
    }

    @Test func scanReconcilesRecordsWithImages() throws {
        let t = try TestSR()
        let a = try t.sr.createVDI(VDISpec(virtualSize: 4 << 20, nameLabel: "a"))
        let b = try t.sr.createVDI(VDISpec(virtualSize: 4 << 20, nameLabel: "b"))
        #expect(try t.sr.scan().isEmpty)
        try FileManager.default.removeItem(atPath: t.imagePath(a.uuid))
        let stranger = UUIDText.random()
        try FileManager.default.copyItem(atPath: t.imagePath(b.uuid), toPath: t.imagePath(stranger))
        let changes = try t.sr.scan()
        #expect(changes.contains(.forgotten(vdi: a.uuid)))
        #expect(changes.contains(.adopted(vdi: stranger)))
        #expect(Set(try t.sr.vdis().map(\.uuid)) == [b.uuid, stranger])
        try expectConsistent(t.sr)
    }

    @Test func noSpaceIsRefusedBeforeAnythingIsWritten() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: 64 << 20))
        let tight = try t.reattach(EngineOptions(freeSpace: .capped(freeBytes: SRLimits.spaceSlackBytes + 4096)))
        let names = try tight.repository.volumeNames()
        #expect { try tight.createVDI(VDISpec(virtualSize: 1 << 30)) } throws: { e in
            if case .noSpace = e as? SREngineError { return true } else { return false }
        }
        #expect(throws: SREngineError.self) { try tight.snapshot(v.uuid) }
        #expect(throws: SREngineError.self) { try tight.resizeVDI(v.uuid, to: 1 << 30) }
        #expect(try tight.repository.volumeNames() == names)
        try expectConsistent(tight)
    }

    @Test func introduceAndUpdate() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: 4 << 20, nameLabel: "x"))
        let copy = UUIDText.random()
        try FileManager.default.copyItem(atPath: t.imagePath(v.uuid), toPath: t.imagePath(copy))
        let r = try t.sr.introduceVDI(uuid: copy, nameLabel: "introduced")
        #expect(r.nameLabel == "introduced" && r.virtualSize == 4 << 20)
        #expect(throws: SREngineError.vdiExists(uuid: copy)) { try t.sr.introduceVDI(uuid: copy) }
        #expect(throws: SREngineError.vdiNotFound(uuid: "nope")) { try t.sr.introduceVDI(uuid: "nope") }
        #expect(try t.sr.updateVDI(copy).virtualSize == 4 << 20)
        #expect(try t.sr.setVDI(copy, nameLabel: "renamed").nameLabel == "renamed")
    }
}
