import TestSupport
import Foundation
import Testing

/// vdi-import and vdi-export move raw and VHD streams, sparse-aware, and the demo runs.
@Suite struct TransferTests {
    /// A sparse raw file: 1 MiB of data at 0 and at 40 MiB, holes elsewhere.
    func makeSparseRaw(_ path: String, size: UInt64) throws -> [UInt8] {
        FileManager.default.createFile(atPath: path, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let data = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        try h.seek(toOffset: 0)
        h.write(Data(data))
        try h.seek(toOffset: 40 << 20)
        h.write(Data(data))
        try h.truncate(atOffset: size)
        try h.close()
        return data
    }

    func allocated(_ path: String) -> UInt64 {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_blocks) * 512 : 0
    }

    @Test func rawAndVHDRoundTripsStaySparse() throws {
        let s = CLISession()
        let sr = try s.createSR()
        let raw = s.dir.path + "/in.raw"
        let data = try makeSparseRaw(raw, size: 64 << 20)
        let v = try s.ok("vdi-create", "sr-uuid=\(sr)", "virtual-size=64MiB")
        let imported = try s.ok("vdi-import", "uuid=\(v)", "filename=\(raw)", "format=raw", "--json")
        #expect(imported.contains("\"bytes-written\" : \(4 << 20)"), "only the two 2 MiB chunks with data: \(imported)")
        #expect(allocated(s.image(sr, v)) < 6 << 20, "holes were not written into the VDI")

        let outRaw = s.dir.path + "/out.raw"
        try s.ok("vdi-export", "uuid=\(v)", "filename=\(outRaw)", "format=raw")
        #expect(FileManager.default.contents(atPath: outRaw) == FileManager.default.contents(atPath: raw))
        #expect(allocated(outRaw) < 6 << 20, "holes were not written into the export")

        let outVHD = s.dir.path + "/out.vhd"
        try s.ok("vdi-export", "uuid=\(v)", "filename=\(outVHD)", "format=vhd")
        #expect(allocated(outVHD) < 6 << 20)
        if toolPath("qemu-img") != nil {
            let cmp = try runTool("qemu-img", ["compare", "-f", "vpc", "-F", "raw", outVHD, raw])
            #expect(cmp.status == 0, "\(cmp.output)")
        }
        // Import the VHD into a snapshot-bearing VDI whose old data must vanish where the source is a hole.
        let w = try s.ok("vdi-create", "sr-uuid=\(sr)", "virtual-size=64MiB")
        let junk = s.dir.path + "/junk.raw"
        FileManager.default.createFile(atPath: junk, contents: Data(repeating: 0xEE, count: 8 << 20))
        try s.ok("vdi-import", "uuid=\(w)", "filename=\(junk)")
        try s.ok("vdi-snapshot", "uuid=\(w)")
        try s.ok("vdi-import", "uuid=\(w)", "filename=\(outVHD)", "format=vhd")
        let back = s.dir.path + "/back.raw"
        try s.ok("vdi-export", "uuid=\(w)", "filename=\(back)")
        #expect(FileManager.default.contents(atPath: back) == FileManager.default.contents(atPath: raw))
        _ = data

        let big = s.dir.path + "/big.raw"
        _ = try makeSparseRaw(big, size: 128 << 20)
        try s.fails(["vdi-import", "uuid=\(v)", "filename=\(big)"], name: "VDISize", code: 79)
        try s.fails(["vdi-import", "uuid=\(v)", "filename=\(raw)", "format=qcow9"], name: "InvalidArg", code: 1)
        try s.fails(["vdi-import", "uuid=\(v)", "filename=\(s.dir.path)/missing.raw"], name: "SMGeneral", code: 202)
        try s.ok("sr-check", "uuid=\(sr)")
    }

    @Test func demoRunsTheWholeJob() throws {
        let s = CLISession()
        let r = try s.run("demo", "--location", s.location, "--size-mib", "8")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("all identical"), "\(r.out)")
        #expect(r.out.contains("hidden base copy") && r.out.contains("check: consistent"), "\(r.out)")
        let sr = try s.ok("sr-list", "--minimal")
        #expect(try s.ok("vdi-list", "sr-uuid=\(sr)", "managed=true", "--minimal").split(separator: ",").count == 3)
    }
}
