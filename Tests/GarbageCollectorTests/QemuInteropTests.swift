import Foundation
import Testing

@testable import SREngine

/// A chain coalesced down to one dynamic VHD reads, through qemu-img, exactly as the chain
/// read before (qemu's vpc driver reads dynamic VHDs, not differencing ones).
@Suite struct QemuInteropTests {
    static let qemuImg = ["/usr/bin/qemu-img", "/usr/local/bin/qemu-img"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: qemuImg != nil, "qemu-img is not installed"))
    func coalescedImageComparesEqualWithQemu() throws {
        let s = try Scenario()
        // Drop the scenario's garbage and merge everything: V becomes a single image.
        let report = try s.t.sr.collectGarbage()
        #expect(report.remaining.isEmpty)
        let record = try s.t.sr.vdi(s.vdi)
        #expect(record.parent == nil, "V should be a single image now")
        let reference = s.t.dir.path + "/reference.raw"
        FileManager.default.createFile(atPath: reference, contents: Data(s.model.disks[s.vdi]!))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.qemuImg!)
        p.arguments = ["compare", "-f", "raw", "-F", "vpc", reference, s.t.sr.repository.path(of: s.vdi + ".vhd")]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "qemu-img compare: \(out)")
    }
}
