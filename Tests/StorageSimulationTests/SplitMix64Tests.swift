import Testing
@testable import StorageSimulation

@Suite struct SplitMix64Tests {
    @Test func matchesTheReferenceSequence() {
        // The first outputs of the reference C implementation for seed 0.
        var random = SplitMix64(seed: 0)
        let outputs = (0..<3).map { _ in random.next() }
        #expect(outputs == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    @Test func sameSeedSameStreamDifferentSeedDifferentStream() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42), c = SplitMix64(seed: 43)
        let first = (0..<16).map { _ in a.next() }
        #expect(first == (0..<16).map { _ in b.next() })
        #expect(first != (0..<16).map { _ in c.next() })
    }

    @Test func boundedDrawsStayInRangeAndCoverIt() {
        var random = SplitMix64(seed: 7)
        var seen = Set<UInt64>()
        for _ in 0..<1_000 {
            let value = random.below(6)
            #expect(value < 6)
            seen.insert(value)
        }
        #expect(seen.count == 6)
        for _ in 0..<200 {
            let value = random.int(in: -3...3)
            #expect((-3...3).contains(value))
        }
        let never = random.chance(0), always = random.chance(1)
        #expect(!never && always)
    }

    @Test func shuffleIsAPermutation() {
        var random = SplitMix64(seed: 9)
        var items = Array(0..<50)
        random.shuffle(&items)
        #expect(items.sorted() == Array(0..<50))
        #expect(items != Array(0..<50))
    }

    @Test func seedParsingAcceptsDecimalAndHex() {
        #expect(SimulationSeed.parse("123") == 123)
        #expect(SimulationSeed.parse(" 0x1F ") == 31)
        #expect(SimulationSeed.parse("nope") == nil)
        #expect(SimulationSeed.replayHint(seed: 5, test: "X") == "replay with SM_SIM_SEED=5 swift test --filter X")
    }
}
