/// The simulation's only source of randomness: SplitMix64, small enough to write by hand.
///
/// Written here rather than taken from the standard library because a replayed seed must give
/// the same choices on every toolchain: `SystemRandomNumberGenerator` cannot be seeded, and the
/// algorithms behind `Int.random(in:using:)` are not promised to stay the same across releases.
/// Every draw below is defined by this file alone.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits (Steele, Lea and Flood's SplitMix64 finaliser).
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in `0..<bound`, without modulo bias (rejection sampling).
    public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "below(0) has no values")
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let value = next()
            if value < limit { return value % bound }
        }
    }

    /// A uniform Int in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int(truncatingIfNeeded: next()) } // the whole Int range
        return range.lowerBound + Int(below(span))
    }

    /// True with probability `p` (clamped to 0...1), from the top 53 bits of one draw.
    public mutating func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        let unit = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return unit < p
    }

    /// Shuffles `items` in place (Fisher–Yates with `below`).
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            let j = Int(below(UInt64(i + 1)))
            if i != j { items.swapAt(i, j) }
        }
    }

    /// Fills `buffer` with random bytes.
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var index = 0
        while index < buffer.count {
            var word = next()
            for _ in 0..<min(8, buffer.count - index) {
                buffer[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
    }
}
