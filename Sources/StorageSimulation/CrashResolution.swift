/// What a crash did with one write that was pending (completed, unflushed) or in flight.
public struct CrashRecord: Sendable, Equatable, CustomStringConvertible {
    public enum Outcome: String, Sendable {
        /// Every sector of the write reached the media.
        case applied
        /// None did.
        case dropped
        /// Some did: `appliedSectors` says which.
        case torn
    }

    /// The request number used in the trace.
    public let requestID: UInt64
    public let operation: String
    public let offset: UInt64
    public let length: Int
    public let outcome: Outcome
    /// The sectors (numbers, in sector-size units) whose version of this write reached the
    /// media, unless a later write to the same sector reached it too.
    public let appliedSectors: [UInt64]
    /// The write was still in flight (never completed to its submitter).
    public let wasInFlight: Bool

    public var description: String {
        var line = "crash #\(requestID) \(operation) off=\(offset) len=\(length)"
        if wasInFlight { line += " in-flight" }
        line += " -> \(outcome.rawValue)"
        if outcome == .torn { line += " sectors=\(appliedSectors.map(String.init).joined(separator: ","))" }
        return line
    }
}

extension SectorLayers {
    /// Decides, with `random`, what reached the media of every write in the cache, then writes
    /// the result to the media and empties the cache.
    ///
    /// Each write is applied whole, dropped whole, or (with `torn`, when it spans more than one
    /// sector) torn: a seeded per-sector choice. Sectors are atomic, so each sector ends as its
    /// durable bytes or as the version left by the latest write chosen for it, never anything
    /// else. Draws happen in completion order, then ascending sector order, so the outcome
    /// depends on the seed and the operations alone.
    mutating func resolveCrash(torn: Bool, inFlight: Set<UInt64>, random: inout SplitMix64) -> [CrashRecord] {
        var records: [CrashRecord] = []
        var appliedBySequence: [UInt64: Set<UInt64>] = [:]
        for write in cache.writes {
            let sectors = Array(write.sectors)
            let choices: UInt64 = torn && sectors.count > 1 ? 3 : 2
            let outcome: CrashRecord.Outcome
            var applied: [UInt64]
            switch random.below(choices) {
            case 0:
                outcome = .applied
                applied = sectors
            case 1:
                outcome = .dropped
                applied = []
            default:
                outcome = .torn
                applied = sectors.filter { _ in random.below(2) == 0 }
            }
            appliedBySequence[write.sequence] = Set(applied)
            records.append(CrashRecord(requestID: write.requestID, operation: write.operation,
                                       offset: write.offset, length: write.length, outcome: outcome,
                                       appliedSectors: applied, wasInFlight: inFlight.contains(write.requestID)))
        }
        var media = durable
        for sector in cache.versions.keys.sorted() {
            let list = cache.versions[sector] ?? []
            if let survivor = list.last(where: { appliedBySequence[$0.sequence]?.contains(sector) ?? false }) {
                media.store(survivor.bytes, at: sector)
            }
        }
        settle(durable: media)
        return records
    }
}
