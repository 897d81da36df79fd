import Foundation
import ImageFormats
import StorageIO
import Testing
import TestSupport

@testable import SREngine

/// Snapshot, clone and create from the pool of blanks: the images are as valid as ones
/// written out in full, for every size up to the largest, and the pool falls back cleanly.
@Suite struct BlankPoolTests {
    func checkPerfect(_ path: String, _ context: String) throws {
        let loop = try EventLoop()
        let store = try LocalFile.open(path, on: loop, options: .init(readOnly: true))
        defer { store.close() }
        let report = VHDImage.check(store)
        #expect(report.isPerfect, "\(context): \(report)")
    }

    @Test func snapshotAndCloneTakeBlanksAndStayValid() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: 64 << 20, nameLabel: "disk"))
        try writeData(t.sr, v.uuid, pattern(256 << 10, seed: 3, at: 0), at: 0)
        #expect(try t.sr.refillBlanks() == SRLimits.blankPoolTarget)
        #expect(try t.sr.refillBlanks() == 0, "a full pool is left alone")

        let snap = try t.sr.snapshot(v.uuid)
        #expect(try t.sr.blankNames().isEmpty, "a double snapshot takes two blanks")
        try writeData(t.sr, v.uuid, pattern(128 << 10, seed: 7, at: 1 << 20), at: 1 << 20)
        #expect(try readData(t.sr, snap.uuid, count: 256 << 10, at: 0) == pattern(256 << 10, seed: 3, at: 0))
        #expect(try readData(t.sr, v.uuid, count: 128 << 10, at: 1 << 20) == pattern(128 << 10, seed: 7, at: 1 << 20))

        #expect(try t.sr.refillBlanks() == 2)
        let clone = try t.sr.snapshot(v.uuid, clone: true)
        #expect(try readData(t.sr, clone.uuid, count: 128 << 10, at: 1 << 20) == pattern(128 << 10, seed: 7, at: 1 << 20))
        try expectConsistent(t.sr, "after snapshot and clone from blanks")
        for vdi in try t.sr.vdis() { try checkPerfect(t.imagePath(vdi.uuid), "\(vdi.uuid)") }
        // The background worker gives the unused BAT reserve back: a blank-born leaf is then
        // small on disk, and its data and checks are unchanged.
        let before = try #require(t.sr.repository.volumeUsage(VolumeName.image(clone.uuid)))
        #expect(before.allocated >= 4_000_000, "\(before)")
        #expect(try t.sr.releaseBlankTables() == 4, "the four blank-born images")
        #expect(try t.sr.releaseBlankTables() == 4, "idempotent")
        let usage = try #require(t.sr.repository.volumeUsage(VolumeName.image(clone.uuid)))
        #expect(usage.allocated < 512 << 10, "\(usage)")
        #expect(try readData(t.sr, clone.uuid, count: 128 << 10, at: 1 << 20) == pattern(128 << 10, seed: 7, at: 1 << 20))
        try expectConsistent(t.sr, "after giving back the table reserve")
        for vdi in try t.sr.vdis() { try checkPerfect(t.imagePath(vdi.uuid), "\(vdi.uuid) after release") }
    }

    /// The whole size range, and the qemu reading of a blank-born chain.
    @Test(arguments: [UInt64(2) << 20, 1 << 30, VHDLimits.sizeBytesMax])
    func everySizeReadsBackThroughQemu(size: UInt64) throws {
        let t = try TestSR()
        try t.sr.refillBlanks()
        let v = try t.sr.createVDI(VDISpec(virtualSize: size))
        try writeData(t.sr, v.uuid, pattern(64 << 10, seed: 1, at: size - (64 << 10)), at: size - (64 << 10))
        try t.sr.refillBlanks()
        _ = try t.sr.snapshot(v.uuid)
        try writeData(t.sr, v.uuid, pattern(4096, seed: 2, at: 0), at: 0)
        try expectConsistent(t.sr, "size \(size)")
        try checkPerfect(t.imagePath(v.uuid), "leaf of \(size)")
        guard toolPath("qemu-img") != nil else { return }
        let info = try runTool("qemu-img", ["info", "--output=json", t.imagePath(v.uuid)])
        #expect(info.status == 0 && info.output.contains("\"virtual-size\": \(size)"), "\(info.output)")
        let map = try runTool("qemu-img", ["map", "--output=json", "-f", "vpc", t.imagePath(v.uuid)])
        #expect(map.status == 0, "\(map.output)")
        let raw = t.dir.file("tail.raw")
        let head = try runTool("qemu-img", ["dd", "-f", "vpc", "-O", "raw", "bs=4096", "count=1", "if=\(t.imagePath(v.uuid))", "of=\(raw)"])
        #expect(head.status == 0, "\(head.output)")
        #expect(Array(FileManager.default.contents(atPath: raw) ?? Data()) == pattern(4096, seed: 2, at: 0))
    }

    @Test func anEmptyPoolBuildsTheOrdinaryWay() throws {
        let t = try TestSR(options: EngineOptions(blankPoolTarget: 0))
        let v = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20))
        #expect(try t.sr.refillBlanks() == 0)
        _ = try t.sr.snapshot(v.uuid)
        try expectConsistent(t.sr)
    }

    @Test func aMisfitBlankIsDroppedNotUsed() throws {
        let t = try TestSR()
        let v = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20))
        // Not a blank's size: personalize refuses it, the image is built in full instead.
        FileManager.default.createFile(atPath: t.dir.path + "/\(t.sr.uuid)/\(UUIDText.random()).blank", contents: Data(count: 4096))
        let snap = try t.sr.snapshot(v.uuid)
        #expect(try t.sr.blankNames().isEmpty)
        try expectConsistent(t.sr)
        try checkPerfect(t.imagePath(snap.uuid), "snapshot")
    }

    @Test func recoverySweepsAHalfFormattedBlank() throws {
        let t = try TestSR()
        let partial = t.dir.path + "/\(t.sr.uuid)/\(UUIDText.random()).blank.partial"
        FileManager.default.createFile(atPath: partial, contents: Data(count: 512))
        let again = try t.reattach()
        #expect(!FileManager.default.fileExists(atPath: partial), "\(again.recoveryLog)")
        try expectConsistent(again)
    }
}
