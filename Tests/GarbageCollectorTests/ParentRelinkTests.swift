import Foundation
import ImageFormats
import StorageIO
import Testing

@testable import SREngine

/// Relinking rewrites the parent link in place: one header sector (the second is left
/// as it was, so a torn write cannot mix them), the locators, and nothing else.
@Suite struct ParentRelinkTests {
    @Test func relinkTouchesOneHeaderSectorAndChecksClean() throws {
        let t = try TestSR()
        let sr = t.sr
        let v = try sr.createVDI(VDISpec(virtualSize: 8 << 20)).uuid
        try write(sr, v, [UInt8](repeating: 3, count: 8192), at: 0)
        _ = try sr.snapshot(v)
        let base1 = try sr.vdi(v).parent!
        _ = try sr.snapshot(v)
        let base2 = try sr.vdi(v).parent!
        #expect(base1 != base2)
        let path = sr.repository.path(of: v + ".vhd")
        let before = try #require(FileManager.default.contents(atPath: path))
        let loop = try EventLoop()
        let parentPath = sr.repository.path(of: base1 + ".vhd")
        let parentStore = try LocalFile.open(parentPath, on: loop, options: .init(readOnly: true))
        let parentFooter = try VHDImage.open(parentStore, readOnly: true).footer
        parentStore.close()
        let store = try LocalFile.open(path, on: loop)
        #expect(try ParentRelink.relink(store, parentName: base1 + ".vhd", parentFooter: parentFooter,
                                        parentMTime: ParentRelink.mtime(parentPath)))
        #expect(try !ParentRelink.relink(store, parentName: base1 + ".vhd", parentFooter: parentFooter,
                                         parentMTime: ParentRelink.mtime(parentPath)))  // idempotent
        store.close()
        let after = try #require(FileManager.default.contents(atPath: path))
        #expect(before.count == after.count)
        #expect(before[1024..<1536] == after[1024..<1536], "the header's second sector changed")
        #expect(before[1536...].elementsEqual(after[1536...]) == false, "the locators should name the new parent")
        #expect(try sr.imageInfo(v + ".vhd").parent == base1)
        let check = try LocalFile.open(path, on: loop, options: .init(readOnly: true))
        defer { check.close() }
        #expect(VHDImage.check(check).isPerfect, "\(VHDImage.check(check))")
        let chain = try ImageChain.open(path, on: loop, readOnly: true)
        #expect(chain.depth == 2)
        try chain.close()
    }
}
