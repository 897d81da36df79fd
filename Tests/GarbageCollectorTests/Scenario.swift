import Foundation
import ImageFormats
import Testing

@testable import SREngine

/// A small SR holding one of each kind of collector work, with its content model:
///
///     B1 (hidden) ── B2 (hidden) ── V        after S1 and S2 are destroyed:
///                                            coalesce B2 into B1, then leaf-coalesce V;
///     G (hidden leaf)                        garbage.
struct Scenario {
    let t: TestSR
    var model = ContentModel()
    let vdi: String

    /// The same scenario in a fresh directory, copied from this one.
    func copy() throws -> Scenario { try Scenario(t: TestSR(copying: t), model: model, vdi: vdi) }

    init(t: TestSR, model: ContentModel, vdi: String) {
        self.t = t
        self.model = model
        self.vdi = vdi
    }

    init(options: EngineOptions = EngineOptions()) throws {
        t = try TestSR(options: options)
        let sr = t.sr
        let size = 8 << 20
        vdi = try sr.createVDI(VDISpec(virtualSize: UInt64(size), nameLabel: "disk")).uuid
        var content = [UInt8](repeating: 0, count: size)
        func put(_ offset: Int, _ length: Int, _ seed: UInt8) throws {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 / 512) ^ seed }
            try write(sr, vdi, data, at: UInt64(offset))
            content.replaceSubrange(offset..<(offset + length), with: data)
        }
        try put(0, 4 << 20, 0x11)            // two batmap-full blocks
        try put(5 << 20 + 4096, 70_000 / 512 * 512, 0x22)
        let s1 = try sr.snapshot(vdi).uuid
        try put(1 << 20, 2 << 20, 0x33)      // straddles blocks 0 and 1
        try put(6 << 20, 512, 0x44)
        let s2 = try sr.snapshot(vdi).uuid
        try put(4 << 20, 2 << 20, 0x55)
        try put(7 << 20 + 512, 1024, 0x66)
        try sr.destroyVDI(s1)
        try sr.destroyVDI(s2)
        let g = try sr.createVDI(VDISpec(virtualSize: 4 << 20)).uuid
        try write(sr, g, [UInt8](repeating: 7, count: 4096), at: 0)
        try sr.setHidden(VolumeName.image(g), true)
        _ = try sr.updateVDI(g)
        model.disks[vdi] = content
    }

    /// The work it holds, for tests that check the plan.
    static func expectFullPlan(_ plan: CoalescePlan, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(plan.garbage.count == 1 && plan.coalesce.count == 1, "\(plan)", sourceLocation: sourceLocation)
    }
}
