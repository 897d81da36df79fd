import Foundation
import TestSupport
import Testing

/// The collector merges a leaf that sm-tapdisk serves while a client writes at full speed:
/// the daemon copies and mirrors, one pause swaps the parent in, the writer never stops,
/// and afterwards the VDI is one image holding every acknowledged write.
@Suite(.enabled(if: Built.both, "sm-tapdisk and sm-cli are not built"))
struct LiveLeafCoalesceTests {
    @Test func convergesUnderAFullSpeedWriter() throws {
        let host = CLIHost()
        let (sr, vdi) = try host.makeVDI(mib: 64)
        let uri = try host.ok("vdi-attach", "uuid=\(vdi)")
        let writer = OrderedWriter(blockCount: 512)  // 32 MiB of the 64 MiB disk
        let run = Background { try writer.run(uri: uri) }
        defer { writer.stop.store(true, ordering: .releasing) }
        #expect(writer.waitFor(600), "the writer did not start")
        // A snapshot, then its removal: the base copy's only child is the served leaf.
        let snapshot = try host.ok("vdi-snapshot", "uuid=\(vdi)")
        #expect(writer.waitFor(writer.completed.load(ordering: .acquiring) + 600))
        try host.ok("vdi-destroy", "uuid=\(snapshot)")
        #expect(try host.ok("sr-gc", "uuid=\(sr)", "query=true").contains("leaf-coalesce \(vdi)"))

        let before = writer.completed.load(ordering: .acquiring)
        let gc = try host.run(["sr-gc", "uuid=\(sr)"])
        #expect(gc.status == 0, "\(gc.out)\n\(gc.err)")
        #expect(gc.out.contains("leaf-coalesced"), "\(gc.out)")
        let during = writer.completed.load(ordering: .acquiring) - before
        #expect(during > 0, "the writer made no progress during the merge")
        #expect(writer.waitFor(writer.completed.load(ordering: .acquiring) + 300), "the writer did not go on after the swap")
        writer.stop.store(true, ordering: .releasing)
        let total = try run.wait()
        try host.ok("vdi-detach", "uuid=\(vdi)")

        // One image, no parent, every write.
        let list = try host.ok("vdi-list", "sr-uuid=\(sr)", "--json")
        #expect(!list.contains("\"parent\" : \"") || !list.contains("vhd-parent"), "\(list)")
        let image = try readImage(host.imagePath(sr: sr, vdi: vdi), bytes: writer.blockCount * OrderedWriter.blockBytes)
        #expect(image.clean, "\(image.report)")
        #expect(image.data == writer.state(after: total), "the merged VDI lost writes")
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(host.location)/\(sr)").filter { $0.hasSuffix(".vhd") }
        #expect(files == ["\(vdi).vhd"], "\(files)")
        #expect(try host.run(["sr-check", "uuid=\(sr)"]).status == 0)
    }
}
