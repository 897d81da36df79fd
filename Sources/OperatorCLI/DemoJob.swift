import ImageFormats
import SREngine
import StorageIO
import Glibc

/// `sm-cli demo --location DIR [--size-mib N]`: the real job on a local SR, narrated.
/// Creates an SR and a VDI, writes a pattern, snapshots, overwrites part of the original,
/// clones the snapshot, reads all three back and verifies them, then shows the snapshot
/// tree and the space used. The SR is registered, so the other commands can look at it.
enum DemoJob {
    static let spec = CommandSpec(name: "demo", summary: "run the whole job on a local SR in DIR (--location DIR --size-mib N)",
                                  keys: ["location", "size-mib"], run: run)

    static func run(_ c: CommandContext) throws {
        let location = c.args.flagValues["location"] ?? c.args.params["location"] ?? "demo-sr"
        let sizeText = c.args.flagValues["size-mib"] ?? c.args.params["size-mib"] ?? "64"
        guard let mib = UInt64(sizeText), mib > 0 else { throw CLIError.usage("--size-mib \(sizeText): expected a positive number") }
        let size = mib << 20
        let say = { (s: String) in c.out.line(s) }

        let dc = SRCommands.absolutized(["location": location])
        let sr = try c.manager.create(type: "file", deviceConfig: dc, nameLabel: "demo SR")
        try c.registry.modify { $0[sr.uuid] = HostRegistry.Entry(type: "file", deviceConfig: dc) }
        say("created SR \(sr.uuid) (type file) in \(dc["location"]!)/\(sr.uuid)")
        let vdi = try sr.createVDI(VDISpec(virtualSize: size, nameLabel: "demo disk"))
        say("created VDI \(vdi.uuid): \(SizeText.format(vdi.virtualSize)) virtual, \(SizeText.format(vdi.physicalUtilisation)) on disk (thin)")

        try write(sr, vdi.uuid, range: 0..<size, seed: 1)
        say("wrote \(SizeText.format(size)) of pattern A to the VDI")
        let snap = try sr.snapshot(vdi.uuid, nameLabel: "demo disk snapshot")
        say("snapshot \(snap.uuid): the VDI's image became a hidden base copy, shared by the VDI and the snapshot (no data copied)")
        let quarter = max(size / 4 / (2 << 20) * (2 << 20), 2 << 20)
        try write(sr, vdi.uuid, range: 0..<quarter, seed: 2)
        say("overwrote the first \(SizeText.format(quarter)) of the VDI with pattern B")
        let clone = try sr.snapshot(snap.uuid, clone: true, nameLabel: "demo clone")
        say("clone \(clone.uuid) of the snapshot")

        var failures = 0
        failures += try verify(sr, vdi.uuid, size: size) { $0 < quarter ? 2 : 1 }
        failures += try verify(sr, snap.uuid, size: size) { _ in 1 }
        failures += try verify(sr, clone.uuid, size: size) { _ in 1 }
        say("read back: VDI = B then A, snapshot = A, clone = A: \(failures == 0 ? "all identical" : "\(failures) mismatching chunks")")

        say("")
        say("snapshot tree:")
        for line in TreeText.lines(try sr.tree()) { say("  " + line) }
        let stats = try sr.update()
        say("")
        say("space: \(SizeText.format(stats.imageBytes)) on disk for \(stats.vdiCount) VDIs of \(SizeText.format(size)) each "
            + "(virtual allocation \(SizeText.format(stats.virtualAllocation)))")
        let report = try sr.verify()
        say("check: \(report)")
        say("")
        say("look further with: sm-cli vdi-list sr-uuid=\(sr.uuid)   (registry: \(c.registry.path))")
        if failures > 0 || !report.isConsistent {
            throw SREngineError.imageDamaged(path: sr.uuid, detail: "the demo's read-back or check failed")
        }
    }

    static let chunk = 1 << 20

    /// Chunk i of pattern `seed`: 64-bit words naming the seed, chunk and word.
    static func fill(_ b: UnsafeMutableRawBufferPointer, seed: UInt64, chunk: UInt64) {
        let words = b.bindMemory(to: UInt64.self)
        for i in words.indices { words[i] = seed << 56 | chunk << 24 | UInt64(i) }
    }

    static func write(_ sr: AttachedSR, _ vdi: String, range: Range<UInt64>, seed: UInt64) throws {
        let handle = try sr.openData(vdi, writable: true)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var pos = range.lowerBound
        while pos < range.upperBound {
            fill(buffer, seed: seed, chunk: pos / UInt64(chunk))
            try handle.image.write(UnsafeRawBufferPointer(buffer), at: VirtualOffset(pos))
            pos += UInt64(chunk)
        }
        try handle.close()
    }

    /// Counts chunks that differ from the pattern `expected(offset)` says they hold.
    static func verify(_ sr: AttachedSR, _ vdi: String, size: UInt64, expected: (UInt64) -> UInt64) throws -> Int {
        let handle = try sr.openData(vdi, writable: false)
        defer { try? handle.close() }
        let got = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        let want = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { got.deallocate(); want.deallocate() }
        var bad = 0, pos: UInt64 = 0
        while pos < size {
            try handle.image.read(into: got, at: VirtualOffset(pos))
            fill(want, seed: expected(pos), chunk: pos / UInt64(chunk))
            if memcmp(got.baseAddress!, want.baseAddress!, chunk) != 0 { bad += 1 }
            pos += UInt64(chunk)
        }
        return bad
    }
}
