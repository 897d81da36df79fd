import ImageFormats
import StorageIO
import StorageSimulation
import Testing
import TestSupport

@testable import SREngine

/// The coalesce data mover on simulated disks: completions delayed and reordered, an abort,
/// and a power loss at a random request. Whatever happens, the chain [source, target] reads as
/// before the copy, and a completed copy leaves the target alone reading like that chain.
@Suite struct AllocatedCopyTests {
    static let virtualSize: UInt64 = 24 << 20  // 12 blocks: several reads in flight at once
    static let blockBytes: UInt64 = 2 << 20

    /// A parent with full, partial and absent blocks, and a child over it holding whole
    /// blocks, sector runs and runs that straddle blocks.
    struct Pair {
        let loop: EventLoop
        let sourceDisk: SimulatedDisk
        var targetDisk: SimulatedDisk
        var rng: SeededGenerator

        init(seed: UInt64, faults: FaultPlan) throws {
            loop = try EventLoop()
            rng = SeededGenerator(seed: seed)
            sourceDisk = SimulatedDisk(.init(name: "child.vhd", size: 0, alignment: 512), seed: seed, loop: loop, faults: faults)
            targetDisk = SimulatedDisk(.init(name: "parent.vhd", size: 0, alignment: 512), seed: seed &+ 1,
                                       loop: loop, faults: faults)
            let footer = try VHDCreate.dynamic(on: targetDisk, size: Self.size)
            let link = VHDCreate.link(childPath: "child.vhd", parentPath: "parent.vhd", parent: footer)
            try VHDCreate.differencing(on: sourceDisk, link: link)
            let target = try VHDImage.open(targetDisk), source = try VHDImage.open(sourceDisk)
            try fill(target, blocks: [0, 1, 5, 9, 10], wholeBlocks: [0, 9], salt: 0x11)
            try fill(source, blocks: [1, 2, 3, 4, 6, 9, 10, 11], wholeBlocks: [2, 3, 4, 9], salt: 0x77)
            try target.flush()  // not close: that would close the disks too
            try source.flush()
        }

        static var size: UInt64 { AllocatedCopyTests.virtualSize }

        /// Whole `wholeBlocks`, random sector runs (some crossing into the next block) elsewhere.
        mutating func fill(_ image: VHDImage, blocks: [Int], wholeBlocks: Set<Int>, salt: UInt8) throws {
            for b in blocks {
                let base = UInt64(b) * AllocatedCopyTests.blockBytes
                var runs: [(UInt64, UInt64)] = []
                if wholeBlocks.contains(b) {
                    runs = [(base, AllocatedCopyTests.blockBytes)]
                } else {
                    for _ in 0..<4 {
                        let start = base + UInt64.random(in: 0..<4096, using: &rng) * 512
                        let sectors = UInt64.random(in: 1...600, using: &rng)
                        runs.append((start, min(sectors * 512, Self.size - start)))
                    }
                }
                for (offset, length) in runs {
                    let bytes = (0..<Int(length)).map { UInt8(truncatingIfNeeded: $0 / 512 &* 31 &+ Int(salt) &+ Int(offset / 512)) }
                    try bytes.withUnsafeBytes { try image.write($0, at: VirtualOffset(offset)) }
                }
            }
        }

        /// What the chain [source, target] reads.
        func chainContent() throws -> [UInt8] {
            let chain = try ImageChain(layers: [try VHDImage.open(sourceDisk, readOnly: true), try VHDImage.open(targetDisk, readOnly: true)])
            return try Self.readAll(chain)
        }

        static func readAll(_ image: any DiskImage) throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: Int(size))
            try out.withUnsafeMutableBytes { try image.read(into: $0, at: VirtualOffset(0)) }
            return out
        }

        /// The parent's disk after a crash and restart (a crash just now if none happened).
        mutating func rebootTarget() {
            if !targetDisk.isCrashed { targetDisk.crash() }
            targetDisk = targetDisk.restart()
        }

        /// What `rollBackMerge` does (repair closes the store), then a reboot to read it back.
        mutating func rollBack() throws {
            rebootTarget()
            _ = try VHDImage.repair(targetDisk)
            rebootTarget()
        }

        /// Runs the copy as `copyForMerge` does; `progress` may throw to stop it.
        func copy(progress: (UInt64) throws -> Void = { _ in }) throws {
            let source = try VHDImage.open(sourceDisk, readOnly: true), target = try VHDImage.open(targetDisk)
            try AllocatedCopy.copy(try AllocatedCopy.runs(of: source), from: source, into: target, progress: progress)
        }
    }

    static var reordering: FaultPlan {
        var plan = FaultPlan()
        plan.reorder = true
        plan.maxDelayTurns = 3
        return plan
    }

    @Test(arguments: UInt64(1)...3)
    func copiedTargetReadsLikeTheChain(seed: UInt64) throws {
        let pair = try Pair(seed: seed, faults: Self.reordering)
        let expected = try pair.chainContent()
        var reports: [UInt64] = []
        try pair.copy { reports.append($0) }
        let runs = try AllocatedCopy.runs(of: try VHDImage.open(pair.sourceDisk, readOnly: true))
        #expect(reports.last == AllocatedCopy.bytes(runs), "progress ends at the bytes the source holds")
        #expect(reports == reports.sorted(), "progress only grows")
        #expect(VHDImage.check(pair.targetDisk).isClean, "seed \(seed): \(VHDImage.check(pair.targetDisk))")
        #expect(try Pair.readAll(try VHDImage.open(pair.targetDisk, readOnly: true)) == expected, "seed \(seed)")
        #expect(try pair.chainContent() == expected, "seed \(seed): the chain still reads the same")
    }

    struct Stop: Error {}

    @Test func abortedCopyChangesNothingVisible() throws {
        var pair = try Pair(seed: 9, faults: Self.reordering)
        let expected = try pair.chainContent()
        #expect(throws: Stop.self) { try pair.copy { _ in throw Stop() } }
        try pair.rollBack()
        #expect(VHDImage.check(pair.targetDisk).isClean)
        #expect(try pair.chainContent() == expected)
    }

    /// Power lost at a random request of the copy: after the reboot and the repair the
    /// rollback makes, the parent checks clean and the chain reads as before; copying again
    /// then completes the merge.
    @Test(arguments: UInt64(1)...6)
    func powerLossDuringCopyKeepsTheChain(seed: UInt64) throws {
        var pair = try Pair(seed: seed, faults: Self.reordering)
        let expected = try pair.chainContent()
        var plan = Self.reordering
        var rng = SeededGenerator(seed: seed &* 7919)
        plan.powerLossAfterRequests = Int.random(in: 1...40, using: &rng)
        pair.targetDisk.crash()  // nothing is pending: the setup closed its images
        pair.targetDisk = pair.targetDisk.restart(faults: plan)
        do { try pair.copy() } catch {}  // the power loss may come after the copy's last request
        try pair.rollBack()
        #expect(VHDImage.check(pair.targetDisk).isClean, "seed \(seed): \(VHDImage.check(pair.targetDisk))")
        #expect(try pair.chainContent() == expected, "seed \(seed)")
        try pair.copy()  // the next collector run copies again, over the partial copy
        #expect(try Pair.readAll(try VHDImage.open(pair.targetDisk, readOnly: true)) == expected, "seed \(seed): retried copy")
    }
}
