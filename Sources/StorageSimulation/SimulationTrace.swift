/// The ordered log of what a simulated disk did, one line per event.
///
/// It is the determinism check: the same seed and the same operations must give the same
/// lines, so a test compares traces instead of trusting that nothing drifted. Lines carry a
/// digest of the data written so that different bytes give different traces too.
public struct SimulationTrace: Sendable, Equatable {
    public private(set) var lines: [String] = []

    public init() {}

    mutating func record(_ line: String) {
        lines.append(line)
    }

    /// One 64-bit FNV-1a digest of all lines, for comparing long traces at a glance.
    public var digest: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for line in lines {
            for byte in line.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01B3 }
            hash = (hash ^ 0x0A) &* 0x0100_0000_01B3
        }
        return hash
    }

    /// FNV-1a of `count` bytes at `bytes` (nil: zeros), as 16 hex digits for a trace line.
    static func digest(of bytes: UnsafeRawPointer?, count: Int) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for index in 0..<count {
            let byte = bytes?.load(fromByteOffset: index, as: UInt8.self) ?? 0
            hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
