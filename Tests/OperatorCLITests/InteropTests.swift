import TestSupport
import Foundation
import Testing

/// The images an SR holds pass the real tools: qemu-img (format vpc) and libvhdi's vhdiinfo,
/// including differencing images that name their parent by relative name.
@Suite struct InteropTests {
    @Test func srImagesPassQemuImgAndVhdiinfo() throws {
        guard toolPath("qemu-img") != nil else { print("skipped: qemu-img not installed"); return }
        let s = CLISession()
        let sr = try s.createSR()
        let v = try s.ok("vdi-create", "sr-uuid=\(sr)", "virtual-size=100MiB")
        let raw = s.dir.path + "/data.raw"
        FileManager.default.createFile(atPath: raw, contents: Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 / 511) }))
        try s.ok("vdi-import", "uuid=\(v)", "filename=\(raw)")
        let snap = try s.ok("vdi-snapshot", "uuid=\(v)")
        let base = try #require(try s.attach(sr).vdi(v).parent)
        for vdi in [v, snap, base] {
            let path = s.image(sr, vdi)
            let info = try runTool("qemu-img", ["info", "-f", "vpc", "--output=json", path])
            #expect(info.status == 0, "\(info.output)")
            #expect(info.output.contains("\"virtual-size\": \(100 << 20)"), "\(info.output)")
            let check = try runTool("qemu-img", ["check", "-f", "vpc", path])
            #expect(check.status == 0 || check.status == 63, "qemu-img check: \(check.output)")  // 63: vpc has no check
            if toolPath("vhdiinfo") != nil {
                let vi = try runTool("vhdiinfo", [path])
                #expect(vi.status == 0, "\(vi.output)")
                if vdi != base { #expect(vi.output.contains("Parent filename\t\t: \(base).vhd"), "\(vi.output)") }
            }
        }
        // qemu sees the base's data in the base (it ignores parents): the imported bytes.
        let cmp = try runTool("qemu-img", ["compare", "-f", "vpc", "-F", "raw", s.image(sr, base), raw])
        #expect(cmp.status == 0, "\(cmp.output)")
    }
}
