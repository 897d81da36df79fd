import TestSupport
import Foundation
import StorageIO
import Testing

@testable import ImageFormats

/// Images we write pass qemu-img and libvhdi; images qemu-img writes, we read identically.
@Suite struct InteropTests {
    static let qemu = toolPath("qemu-img") != nil
    static let vhdi = toolPath("vhdiinfo") != nil

    /// Fills an image and the reference model with the same random writes.
    func fill(_ image: any DiskImage, _ model: inout ReferenceDisk, seed: UInt64, count: Int) throws {
        var rng = SeededGenerator(seed: seed)
        for i in 0..<count {
            let sectors = Int.random(in: 1...256, using: &rng)
            let off = UInt64.random(in: 0...(image.virtualSize / 512 - UInt64(sectors)), using: &rng) * 512
            let data = pattern(count: sectors * 512, seed: seed &+ UInt64(i), at: off)
            try image.writeBytes(data, at: off)
            model.write(data, at: off)
        }
    }

    @Test(arguments: ["dynamic", "fixed"])
    func ourImagesPassQemuAndLibvhdi(kind: String) throws {
        guard Self.qemu else { print("skipped: qemu-img not installed"); return }
        let dir = TempDir(), loop = try makeLoop()
        let path = dir.file("ours.vhd"), raw = dir.file("ref.raw")
        let size: UInt64 = 48 << 20
        var model = ReferenceDisk(size: size)
        let store = try openStore(path, on: loop, create: true)
        if kind == "fixed" { try VHDCreate.fixed(on: store, size: size) } else { try VHDCreate.dynamic(on: store, size: size) }
        let image = try VHDImage.open(store)
        try fill(image, &model, seed: 11, count: 150)
        try image.close()
        try model.writeRaw(raw)

        let info = try runTool("qemu-img", ["info", "-f", "vpc", "--output=json", path])
        #expect(info.status == 0)
        #expect(info.output.contains("\"virtual-size\": \(size)"), "\(info.output)")
        #expect(info.output.contains("\"format\": \"vpc\""))
        let cmp = try runTool("qemu-img", ["compare", "-f", "vpc", "-F", "raw", path, raw])
        #expect(cmp.status == 0, "\(cmp.output)")
        if Self.vhdi {
            let v = try runTool("vhdiinfo", [path])
            #expect(v.status == 0, "\(v.output)")
            #expect(v.output.contains("(\(size) bytes)"), "\(v.output)")
            #expect(v.output.contains(kind == "fixed" ? "Fixed" : "Dynamic"), "\(v.output)")
        } else {
            print("skipped vhdiinfo: libvhdi-utils not installed")
        }
    }

    @Test(arguments: [("dynamic", true), ("dynamic", false), ("fixed", true), ("fixed", false)])
    func qemuImagesReadIdentically(subformat: String, forceSize: Bool) throws {
        guard Self.qemu else { print("skipped: qemu-img not installed"); return }
        let dir = TempDir(), loop = try makeLoop()
        let raw = dir.file("src.raw"), vhd = dir.file("q.vhd")
        let size: UInt64 = 20 << 20 + 3 * 512  // not a block multiple: exercises the partial last block
        var model = ReferenceDisk(size: size)
        do {
            let rawStore = try openStore(raw, on: loop, create: true)
            try rawStore.resize(to: size)
            let rawImage = RawImage(store: rawStore)
            try fill(rawImage, &model, seed: 5, count: 60)
            try rawImage.close()
        }
        let opts = "subformat=\(subformat),force_size=\(forceSize ? "on" : "off")"
        let conv = try runTool("qemu-img", ["convert", "-f", "raw", "-O", "vpc", "-o", opts, raw, vhd])
        #expect(conv.status == 0, "\(conv.output)")
        let info = try runTool("qemu-img", ["info", "-f", "vpc", "--output=json", vhd])
        let image = try VHDImage.open(try openStore(vhd, on: loop), readOnly: true)
        defer { try? image.close() }
        #expect(info.output.contains("\"virtual-size\": \(image.virtualSize)"), "\(info.output) vs \(image.virtualSize)")
        let n = Int(min(size, image.virtualSize))
        #expect(try image.readBytes(at: 0, count: n) == model.read(at: 0, count: n))
        if image.virtualSize > size {
            #expect(try image.readBytes(at: size, count: Int(image.virtualSize - size)).allSatisfy { $0 == 0 })
        }
        let report = image.check()
        #expect(report.isClean, "\(report)")
    }

    /// We allocate blocks in a qemu-made image (unaligned layout); qemu then reads our writes.
    @Test func weWriteIntoQemuImagesAndQemuReadsThem() throws {
        guard Self.qemu else { print("skipped: qemu-img not installed"); return }
        let dir = TempDir(), loop = try makeLoop()
        let vhd = dir.file("q.vhd"), raw = dir.file("ref.raw")
        let size: UInt64 = 32 << 20
        var model = ReferenceDisk(size: size)
        let base = try runTool("qemu-img", ["create", "-f", "vpc", "-o", "force_size=on", vhd, "\(size)"])
        #expect(base.status == 0, "\(base.output)")
        let io = try runTool("qemu-io", ["-f", "vpc", "-c", "write -P 0x5a 1M 3M", vhd])
        if io.status == 0 { model.write([UInt8](repeating: 0x5A, count: 3 << 20), at: 1 << 20) }
        let image = try VHDImage.open(try openStore(vhd, on: loop))
        try fill(image, &model, seed: 9, count: 80)
        try image.close()
        try model.writeRaw(raw)
        let cmp = try runTool("qemu-img", ["compare", "-f", "vpc", "-F", "raw", vhd, raw])
        #expect(cmp.status == 0, "\(cmp.output)")
        let again = try VHDImage.open(try openStore(vhd, on: loop), readOnly: true)
        #expect(again.check().isPerfect, "\(again.check())")
        #expect(try again.readBytes(at: 0, count: Int(size)) == model.read(at: 0, count: Int(size)))
        try again.close()
    }

    /// libvhdi follows our differencing disk's parent name and UUID.
    @Test func libvhdiSeesOurParentLink() throws {
        guard Self.vhdi else { print("skipped: vhdiinfo not installed"); return }
        let dir = TempDir(), loop = try makeLoop()
        let base = dir.file("base.vhd"), child = dir.file("child.vhd")
        let baseFooter = try VHDCreate.dynamic(on: try openStore(base, on: loop, create: true), size: 8 << 20)
        try VHDCreate.differencing(on: try openStore(child, on: loop, create: true), childPath: child, parentPath: base,
                                   parent: baseFooter)
        let v = try runTool("vhdiinfo", [child])
        #expect(v.status == 0, "\(v.output)")
        #expect(v.output.contains("Differential"), "\(v.output)")
        #expect(v.output.lowercased().contains(baseFooter.uuid.description), "\(v.output)")
        #expect(v.output.contains("base.vhd"), "\(v.output)")
    }

    /// libvhdi's FUSE mount reads our depth-3 chain (partial bitmaps in every layer) like the
    /// model: an independent reader of bitmaps, parent names and UUID links. Writes are 4 KiB
    /// granular, as guests issue them: libvhdi 20210425 decides presence per 4 KiB from the
    /// first sector's bit, so 512-byte interleaving reads differently there (seen, not ours). vhdimount
    /// daemonizes, so it runs inside `sh` under `timeout`, with its output on /dev/null (a
    /// daemon holding our pipe would block the test), and unmounts before returning.
    @Test func libvhdiMountReadsOurChain() throws {
        guard toolPath("vhdimount") != nil, toolPath("timeout") != nil,
              FileManager.default.fileExists(atPath: "/dev/fuse") else {
            print("skipped: vhdimount, timeout or /dev/fuse not available"); return
        }
        let dir = TempDir(), loop = try makeLoop()
        let size: UInt64 = 8 << 20
        let (leaf, model) = try ChainTests().buildChain(dir, loop: loop, depth: 3, size: size, seed: 31, writesPerLayer: 30,
                                                   granuleSectors: 8)
        let mountPoint = dir.file("mnt"), reference = dir.file("ref.raw")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        try model.writeRaw(reference)
        let script = """
            vhdimount "$1" "$2" >/dev/null 2>&1 </dev/null || exit 90
            cmp "$2/vhdi3" "$3"; rc=$?
            umount "$2" 2>/dev/null || umount -l "$2"
            exit $rc
            """
        let result = try runTool("timeout", ["-k", "5", "60", "sh", "-c", script, "sh", leaf, mountPoint, reference])
        if result.status == 90 { print("skipped: vhdimount cannot mount here"); return }
        if result.status == 124 || result.status == 137 { _ = try? runTool("umount", ["-l", mountPoint]) }
        #expect(result.status == 0, "libvhdi reads the chain differently: \(result.output)")
    }
}
