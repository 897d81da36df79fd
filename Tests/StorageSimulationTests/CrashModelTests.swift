import StorageIO
import Testing
@testable import StorageSimulation

/// What a crash may legally leave, worked out independently of the disk: per sector, every
/// version it has held since the last point it was known durable.
final class ReferenceModel {
    let sectorSize: Int
    /// Per sector, every version in completion order; index 0 is the initial zeros.
    private(set) var versions: [[[UInt8]]]
    /// Per sector, the oldest version a crash may still leave.
    private(set) var floor: [Int]

    init(sectors: Int, sectorSize: Int) {
        self.sectorSize = sectorSize
        versions = Array(repeating: [[UInt8](repeating: 0, count: sectorSize)], count: sectors)
        floor = Array(repeating: 0, count: sectors)
    }

    /// The newest bytes of `offset..<offset+count`: what a read must return.
    func newest(at offset: UInt64, count: Int) -> [UInt8] {
        (0..<count).map { index in
            let position = Int(offset) + index
            return versions[position / sectorSize].last![position % sectorSize]
        }
    }

    /// A write (`data` nil: discard) completed; with `durable` it is durable already.
    func completed(offset: UInt64, length: Int, data: [UInt8]?, durable: Bool) {
        guard length > 0 else { return }
        let first = Int(offset) / sectorSize, last = (Int(offset) + length - 1) / sectorSize
        for sector in first...last {
            var bytes = versions[sector].last!
            for index in 0..<sectorSize {
                let position = sector * sectorSize + index
                if position >= Int(offset) && position < Int(offset) + length {
                    bytes[index] = data?[position - Int(offset)] ?? 0
                }
            }
            versions[sector].append(bytes)
            if durable { floor[sector] = versions[sector].count - 1 }
        }
    }

    /// What a flush submitted now covers.
    func snapshot() -> [Int] { versions.map { $0.count - 1 } }

    /// A flush of `snapshot` succeeded.
    func flushed(_ snapshot: [Int]) {
        for sector in floor.indices { floor[sector] = max(floor[sector], snapshot[sector]) }
    }

    /// The versions a crash may leave in `sector`.
    func allowed(_ sector: Int) -> ArraySlice<[UInt8]> { versions[sector][floor[sector]...] }
}

@Suite struct CrashModelTests {
    /// Random writes, discards, FUA writes, flushes and reads, submitted asynchronously with
    /// seeded delays and reordering, then a crash at a random moment: every sector must come
    /// back as a version the reference model allows, reads before the crash must see the
    /// newest data, and requests in flight at the crash must never complete.
    @Test func crashLeavesOnlyVersionsTheModelAllows() throws {
        let loop = try makeLoop()
        var survivedPending = 0, lostPending = 0, mixedWrites = 0
        for seed in SimulationSeed.seeds(default: 1...200) {
            let stats = try runScenario(seed: seed, loop: loop)
            survivedPending += stats.survived
            lostPending += stats.lost
            mixedWrites += stats.torn
        }
        if SimulationSeed.pinned == nil {
            // The property is only worth something if crashes really kept and lost data.
            #expect(survivedPending > 0, "no unflushed sector ever survived a crash")
            #expect(lostPending > 0, "no unflushed sector was ever lost in a crash")
            #expect(mixedWrites > 0, "no write was ever torn")
        }
    }

    private func runScenario(seed: UInt64, loop: EventLoop) throws -> (survived: Int, lost: Int, torn: Int) {
        let hint = SimulationSeed.replayHint(seed: seed, test: "crashLeavesOnlyVersionsTheModelAllows")
        var choices = SplitMix64(seed: seed ^ 0x5EED_CAFE)
        let sectorSize = 512
        let sectors = 16
        let aligned = choices.chance(0.5)
        let configuration = SimulatedDisk.Configuration(size: UInt64(sectors * sectorSize), sectorSize: sectorSize,
                                                        alignment: aligned ? sectorSize : 1)
        let faults = FaultPlan().delaying(maxTurns: choices.int(in: 0...3), reorder: choices.chance(0.7))
        let disk = SimulatedDisk(configuration, seed: seed, loop: loop, faults: faults)
        let model = ReferenceModel(sectors: sectors, sectorSize: sectorSize)
        var buffers: [TestBuffer] = [] // alive until the end: in-flight writes read them at the crash
        var crashed = false
        var lateCompletions = 0
        var failures: [String] = []
        // Writes not yet completed, in submission order: the crash resolves these too.
        var unfinished: [(id: Int, offset: UInt64, length: Int, data: [UInt8]?)] = []
        var nextTag = 0

        func submit(_ request: IORequest, data: [UInt8]? = nil) {
            nextTag += 1
            request.tag = nextTag
            if request.operation == .write || request.operation == .discard {
                unfinished.append((nextTag, request.offset, request.length, request.operation == .write ? data : nil))
            }
            disk.submit(request)
        }

        let steps = choices.int(in: 10...40)
        for _ in 0..<steps {
            switch choices.below(10) {
            case 0...4: // write, sometimes FUA
                let (offset, length) = range(&choices, sectors: sectors, sectorSize: sectorSize, aligned: aligned)
                let data = pattern(length, seed: choices.next())
                let buffer = TestBuffer(data)
                buffers.append(buffer)
                let request = IORequest(.write, buffer: buffer.pointer, length: length, offset: offset,
                                        fua: choices.chance(0.15))
                request.onComplete = { done in
                    if crashed { lateCompletions += 1; return }
                    unfinished.removeAll { $0.id == done.tag }
                    if let failure = done.failure { failures.append("write failed: \(failure)"); return }
                    model.completed(offset: done.offset, length: done.length, data: data, durable: done.fua)
                }
                submit(request, data: data)
            case 5: // discard
                let (offset, length) = range(&choices, sectors: sectors, sectorSize: sectorSize, aligned: aligned)
                let request = IORequest(.discard, length: length, offset: offset)
                request.onComplete = { done in
                    if crashed { lateCompletions += 1; return }
                    unfinished.removeAll { $0.id == done.tag }
                    if let failure = done.failure { failures.append("discard failed: \(failure)"); return }
                    model.completed(offset: done.offset, length: done.length, data: nil, durable: false)
                }
                submit(request)
            case 6, 7: // flush: covers what completed before it was submitted
                let snapshot = model.snapshot()
                let request = IORequest(.flush)
                request.onComplete = { done in
                    if crashed { lateCompletions += 1; return }
                    if let failure = done.failure { failures.append("flush failed: \(failure)"); return }
                    model.flushed(snapshot)
                }
                submit(request)
            case 8: // read: must see the newest data when it completes
                let (offset, length) = range(&choices, sectors: sectors, sectorSize: sectorSize, aligned: aligned)
                let buffer = TestBuffer(count: length)
                buffers.append(buffer)
                let request = IORequest(.read, buffer: buffer.pointer, length: length, offset: offset)
                request.onComplete = { done in
                    if crashed { lateCompletions += 1; return }
                    if buffer.bytes(length) != model.newest(at: offset, count: length) {
                        failures.append("read at \(offset)+\(length) did not return the newest data")
                    }
                }
                submit(request)
            default: // let the device make progress
                spin(loop, turns: choices.int(in: 1...4))
            }
        }
        if choices.chance(0.5) { spin(loop, turns: choices.int(in: 0...3)) }

        let torn = choices.chance(0.7)
        // What was still in flight (writes and discards, in submission order) may or may not
        // have landed: the model lets it.
        for write in unfinished {
            model.completed(offset: write.offset, length: write.length, data: write.data, durable: false)
        }
        crashed = true
        disk.crash(torn: torn)
        spin(loop, turns: 5)
        #expect(lateCompletions == 0, "requests completed after the crash; \(hint)")
        #expect(failures.isEmpty, "\(failures.first ?? ""); \(hint)")
        #expect(disk.isClosed)
        #expect(blockIOError { _ = try disk.readBytes(at: 0, count: 512) } == .closed(store: disk.name, operation: .read))

        let rebooted = disk.restart()
        let image = try rebooted.readBytes(at: 0, count: sectors * sectorSize)
        var survived = 0, lost = 0
        for sector in 0..<sectors {
            let bytes = Array(image[sector * sectorSize..<(sector + 1) * sectorSize])
            let allowed = model.allowed(sector)
            guard let position = allowed.lastIndex(of: bytes) else {
                Issue.record("seed \(seed): sector \(sector) holds bytes no write ever gave it; \(hint)")
                continue
            }
            if allowed.count > 1 {
                if position == allowed.endIndex - 1 { survived += 1 } else { lost += 1 }
            }
        }
        let tornWrites = disk.crashRecords.filter { $0.outcome == .torn }.count
        #expect(torn || tornWrites == 0, "a write tore though tearing was off; \(hint)")
        return (survived, lost, tornWrites)
    }

    private func range(_ random: inout SplitMix64, sectors: Int, sectorSize: Int, aligned: Bool) -> (UInt64, Int) {
        let size = sectors * sectorSize
        if aligned {
            let first = random.int(in: 0...(sectors - 1))
            let count = random.int(in: 1...min(4, sectors - first))
            return (UInt64(first * sectorSize), count * sectorSize)
        }
        let offset = random.int(in: 0...(size - 1))
        return (UInt64(offset), random.int(in: 1...min(3 * sectorSize, size - offset)))
    }
}
