import Foundation
import Testing
import TestSupport

@testable import SREngine

/// Trees built by random snapshot / clone / destroy sequences with random writes (seeded),
/// collected to the minimal shape: every visible VDI reads exactly as the reference model
/// before and after, the SR checks clean, and the images left are fewer.
@Suite struct RandomTreeTests {
    /// Builds a random tree; returns the model of every visible VDI's content.
    static func build(_ sr: AttachedSR, seed: UInt64, operations: Int) throws -> ContentModel {
        var rng = SeededGenerator(seed: seed)
        var model = ContentModel()
        let size = Int(16 << 20)
        func pick() -> String? {
            let writable = model.disks.keys.sorted().filter { (try? sr.vdi($0).readOnly) == false }
            return writable.isEmpty ? nil : writable[Int(rng.next() % UInt64(writable.count))]
        }
        for _ in 0..<operations {
            let roll = rng.next() % 100
            if model.disks.isEmpty || roll < 8 {
                let v = try sr.createVDI(VDISpec(virtualSize: UInt64(size)))
                model.disks[v.uuid] = [UInt8](repeating: 0, count: size)
            } else if roll < 55, let v = pick() {
                // A write: whole blocks sometimes (batmap-full), else a sector run anywhere.
                let whole = rng.next() % 4 == 0
                let length = whole ? 2 << 20 : Int(1 + rng.next() % 512) * 512
                let offset = whole ? Int(rng.next() % UInt64(size >> 21)) * (2 << 20) : Int(rng.next() % UInt64((size - length) / 512)) * 512
                let byte = UInt8(truncatingIfNeeded: rng.next() | 1)
                let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 >> 9) &+ byte }
                try write(sr, v, data, at: UInt64(offset))
                model.disks[v]!.replaceSubrange(offset..<(offset + length), with: data)
            } else if roll < 80, let v = model.disks.keys.sorted().randomElement(using: &rng) {
                let kind = rng.next() % 3
                let made = try sr.snapshot(v, type: kind == 2 ? .single : .double, clone: kind == 1)
                model.disks[made.uuid] = model.disks[v]
            } else if let v = model.disks.keys.sorted().randomElement(using: &rng) {
                try sr.destroyVDI(v)
                model.disks[v] = nil
            }
        }
        return model
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func collectsToMinimalShape(seed: UInt64) throws {
        let t = try TestSR()
        let model = try Self.build(t.sr, seed: seed, operations: 32)
        let context = "seed \(seed)"
        try model.expectMatches(t.sr, "\(context) before")
        let before = try t.sr.vdis().count
        let report = try t.sr.collectGarbage()
        #expect(!report.aborted && !report.alreadyRunning && report.noSpace == nil, "\(context): \(report)")
        #expect(report.remaining.isEmpty, "\(context): left \(report.remaining)")
        let after = try t.sr.vdis().count
        #expect(after == before - report.removed.count - report.coalesced.count - report.leafCoalesced.count, "\(context)")
        try expectConsistent(t.sr, context)
        try expectMinimal(t.sr, context)
        try model.expectMatches(t.sr, "\(context) after")
        // A second run finds nothing.
        let again = try t.sr.collectGarbage()
        #expect(again.removed.isEmpty && again.coalesced.isEmpty && again.leafCoalesced.isEmpty, "\(context)")
    }

    /// The kick after destroy keeps the SR minimal at every step of a random sequence.
    @Test func kickAfterEveryDestroyKeepsTheTreeMinimal() throws {
        let t = try TestSR(options: EngineOptions(gcKick: .synchronous))
        let model = try Self.build(t.sr, seed: 99, operations: 32)
        _ = try t.sr.scan()
        try expectConsistent(t.sr, "kick")
        try expectMinimal(t.sr, "kick")
        try model.expectMatches(t.sr, "kick")
    }
}
