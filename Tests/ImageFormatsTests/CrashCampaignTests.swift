import Glibc
import StorageIO
import StorageSimulation
import Testing
import TestSupport

@testable import ImageFormats

/// Random writes and flushes on a differencing VHD (over a parent full of data) on a
/// simulated disk, the power cut at a seeded request (inside allocations and flushes too),
/// twice in a row. After each cut: the image opens, checks clean, every sector flushed
/// before the cut reads back exactly, and every sector written since holds its old value
/// or one of its new ones. A parent full of data matters: over zeros, a bitmap bit that
/// became durable before its data would read as "old" zeros and hide an ordering bug.
@Suite struct CrashCampaignTests {
    /// 1,000 seeds in CI; `SM_SIM_SEEDS=N` for a longer campaign, `SM_SIM_SEED=S` replays one.
    static let seeds: [UInt64] = SimulationSeed.campaign(defaultSize: 1000)
    /// 12 blocks: enough that later rounds still allocate (and reuse space a crash orphaned).
    static let virtualSize: UInt64 = 24 << 20
    static let sectorCount = Int(virtualSize / 512)

    /// Per-sector expectations: the durable disk (flat) and the values written since.
    struct Model {
        var durable: [UInt8]
        var pending: [Int: [[UInt8]]] = [:]

        mutating func write(_ data: [UInt8], at offset: UInt64) {
            for s in 0..<(data.count / 512) {
                pending[Int(offset / 512) + s, default: []].append(Array(data[(s * 512)..<((s + 1) * 512)]))
            }
        }

        mutating func flushed() {
            for (s, values) in pending { durable.replaceSubrange((s * 512)..<(s * 512 + 512), with: values.last!) }
            pending.removeAll()
        }
    }

    /// Sector `s` of `a` equals `b` (512 bytes at `offset`).
    static func sameSector(_ a: [UInt8], _ s: Int, _ b: [UInt8], _ offset: Int = 0) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress! + s * 512, y.baseAddress! + offset, 512) == 0 } }
    }

    @Test(arguments: seeds)
    func crashAnywhereThenRecover(seed: UInt64) throws {
        let loop = try EventLoop()
        // The parent is raw and in memory (only the child's disk is simulated); every
        // sector of it holds its own number, so no parent sector reads like another.
        var parentData = [UInt8](repeating: 0xA5, count: Int(Self.virtualSize))
        for s in 0..<Self.sectorCount {
            for k in 0..<8 { parentData[s * 512 + k] = UInt8(truncatingIfNeeded: s >> (8 * k)) }
        }
        let parent = RawImage(store: MemoryStore(name: "parent.raw", bytes: parentData, loop: loop), readOnly: true)

        let fresh = SimulatedDisk(.init(name: "child.vhd", size: 0, alignment: 512), seed: seed, loop: loop)
        let link = VHDCreate.ParentLink(uuid: .null, timestamp: 0, relativePath: "parent.raw", size: Self.virtualSize)
        try VHDCreate.differencing(on: fresh, link: link)
        fresh.crash()
        var disk = fresh
        var model = Model(durable: parentData)
        var rng = SeededGenerator(seed: seed)
        for round in 0..<3 {
            var plan = FaultPlan()
            plan.powerLossAfterRequests = Int.random(in: 1...200, using: &rng)
            disk = disk.restart(faults: plan)
            try workload(disk, parent: parent, model: &model, rng: &rng, salt: seed &* 31 &+ UInt64(round))
            try verify(disk.restart(), parent: parent, model: &model, seed: seed, round: round, replay: SimulationSeed.replayHint(seed: seed, test: "CrashCampaignTests"),
                       repairAfter: round == 2)
        }
    }

    func workload(_ disk: SimulatedDisk, parent: RawImage, model: inout Model, rng: inout SeededGenerator, salt: UInt64) throws {
        do {
            let chain = try ImageChain(layers: [try VHDImage.open(disk), parent])
            for i in 0..<50 {
                if Int.random(in: 0..<6, using: &rng) == 0 {
                    try chain.flush()
                    model.flushed()
                    continue
                }
                let sectors = Int.random(in: 1...40, using: &rng)
                let off = UInt64.random(in: 0...(UInt64(Self.sectorCount - sectors)), using: &rng) * 512
                let data = pattern(count: sectors * 512, seed: salt &* 7919 &+ UInt64(i), at: off)
                model.write(data, at: off)
                try chain.writeBytes(data, at: off)
            }
            if !disk.isCrashed { disk.crash() }
        } catch let e as BlockIOError {
            guard case .closed = e, disk.isCrashed else { throw e }
        }
    }

    func verify(_ disk: SimulatedDisk, parent: RawImage, model: inout Model, seed: UInt64, round: Int, replay: String,
                repairAfter: Bool) throws {
        let report = VHDCheck.run(disk)
        #expect(report.isClean, "seed \(seed) round \(round): \(report)\nreplay: \(replay)")
        let child = try VHDImage.open(disk)
        let chain = try ImageChain(layers: [child, parent])
        let all = try chain.readBytes(at: 0, count: Int(Self.virtualSize))
        var bad = 0
        for s in 0..<Self.sectorCount where !Self.sameSector(all, s, model.durable, s * 512) {
            if !(model.pending[s]?.contains { Self.sameSector(all, s, $0) } ?? false) {
                bad += 1
                if bad <= 3 {
                    Issue.record("seed \(seed) round \(round): sector \(s) holds neither its flushed nor a newer value\nreplay: \(replay)")
                }
            }
        }
        model.durable = all
        model.pending.removeAll()
        if repairAfter {
            try child.repair()
            let repaired = VHDCheck.run(disk)
            #expect(repaired.isPerfect, "seed \(seed) after repair: \(repaired)")
            #expect(try chain.readBytes(at: 0, count: Int(Self.virtualSize)) == all, "seed \(seed): repair changed data")
        }
        disk.crash()  // drop the verifying store; the next round restarts from the media
    }
}

/// The flush barriers themselves, read from the simulated disk's trace: random crashes
/// rarely land a stale bitmap under a durable BAT entry, so the order is asserted directly.
@Suite struct WriteOrderingTests {
    struct Op: Equatable {
        var isFlush: Bool
        var offset: UInt64 = 0
    }

    func ops(_ trace: [String]) -> [Op] {
        trace.compactMap { line in
            if line.hasSuffix(" submit flush") { return Op(isFlush: true) }
            guard let r = line.range(of: " submit write off=") else { return nil }
            let digits = line[r.upperBound...].prefix { $0.isNumber }
            return Op(isFlush: false, offset: UInt64(digits)!)
        }
    }

    @Test func allocationFlushOrdersDataThenBitmapThenBAT() throws {
        let loop = try EventLoop()
        let disk = SimulatedDisk(.init(name: "order.vhd", size: 0, alignment: 512), seed: 5, loop: loop)
        let link = VHDCreate.ParentLink(uuid: .random(), timestamp: 0, relativePath: "p.vhd", size: 8 << 20)
        try VHDCreate.differencing(on: disk, link: link)
        let image = try VHDImage.open(disk)
        let header = try #require(image.header)
        let before = disk.trace.count
        try image.writeBytes([UInt8](repeating: 7, count: 4096), at: (4 << 20) + 8192)  // allocates block 2
        try image.flush()
        let seq = ops(Array(disk.trace[before...]))
        let bitmapAt = UInt64(image.bat[2]) * 512
        let dataAt = bitmapAt + 512 + 8192
        let index = { (offset: UInt64) in seq.firstIndex(of: Op(isFlush: false, offset: offset)) }
        let data = try #require(index(dataAt)), bitmap = try #require(index(bitmapAt))
        let bat = try #require(index(header.tableOffset))
        #expect(data < bitmap && bitmap < bat)
        #expect(seq[data..<bitmap].contains(Op(isFlush: true)), "no barrier between data and bitmap: \(seq)")
        #expect(seq[bitmap..<bat].contains(Op(isFlush: true)), "no barrier between bitmap and BAT: \(seq)")
        #expect(seq.last == Op(isFlush: true))
        #expect(bitmapAt % 4096 == 3584, "the data area is 4 KiB-aligned")

        // A rewrite of present sectors changes no metadata: one flush, no bitmap write.
        let mark = disk.trace.count
        try image.writeBytes([UInt8](repeating: 8, count: 4096), at: (4 << 20) + 8192)
        try image.flush()
        #expect(ops(Array(disk.trace[mark...])) == [Op(isFlush: false, offset: dataAt), Op(isFlush: true)])
    }
}
