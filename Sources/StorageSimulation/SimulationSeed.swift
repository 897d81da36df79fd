import Glibc

/// Where a simulation test gets its seed, and how a failure tells you to replay it.
///
/// A failing seeded test is only useful if it can be rerun exactly: tests take their seed from
/// `SM_SIM_SEED` when it is set and print `replayHint` when they fail.
public enum SimulationSeed {
    /// The environment variable that pins the seed of simulation tests.
    public static let environmentVariable = "SM_SIM_SEED"

    /// The seed pinned by `SM_SIM_SEED` (decimal, or hex with `0x`), or nil when unset/invalid.
    public static var pinned: UInt64? {
        guard let raw = getenv(environmentVariable) else { return nil }
        return parse(String(cString: raw))
    }

    /// The pinned seed when set, otherwise `fallback`.
    public static func resolve(default fallback: UInt64) -> UInt64 {
        pinned ?? fallback
    }

    /// The seeds a many-seed test should run: just the pinned one when set, else `defaults`.
    public static func seeds(default defaults: some Sequence<UInt64>) -> [UInt64] {
        if let pinned { return [pinned] }
        return Array(defaults)
    }

    /// The environment variable that sets how many seeds a campaign runs (a long campaign).
    public static let campaignSizeVariable = "SM_SIM_SEEDS"

    /// Seeds 1...N for a campaign: N from `SM_SIM_SEEDS`, else `defaultSize`; just the pinned
    /// seed when `SM_SIM_SEED` is set.
    public static func campaign(defaultSize: Int) -> [UInt64] {
        let size = getenv(campaignSizeVariable).flatMap { Int(String(cString: $0)) }.flatMap { $0 > 0 ? $0 : nil }
        return seeds(default: 1...UInt64(size ?? defaultSize))
    }

    /// "replay with SM_SIM_SEED=<seed> swift test --filter <test>": one line for a failure.
    public static func replayHint(seed: UInt64, test: String? = nil) -> String {
        var line = "replay with \(environmentVariable)=\(seed) swift test"
        if let test { line += " --filter \(test)" }
        return line
    }

    static func parse(_ text: String) -> UInt64? {
        let trimmed = text.trimmingWhitespace()
        if trimmed.hasPrefix("0x") || trimmed.hasPrefix("0X") {
            return UInt64(trimmed.dropFirst(2), radix: 16)
        }
        return UInt64(trimmed)
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}
