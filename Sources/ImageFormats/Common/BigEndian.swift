/// Explicit big-endian field access on byte arrays, for the on-disk structures.
///
/// Every on-disk structure is decoded from a `[UInt8]` of known length through these, so no
/// decoder reads memory it did not bounds-check first.
extension Array where Element == UInt8 {
    func be32(_ at: Int) -> UInt32 {
        precondition(at >= 0 && at + 4 <= count, "be32 outside the structure")
        return UInt32(self[at]) << 24 | UInt32(self[at + 1]) << 16 | UInt32(self[at + 2]) << 8 | UInt32(self[at + 3])
    }

    func be64(_ at: Int) -> UInt64 { UInt64(be32(at)) << 32 | UInt64(be32(at + 4)) }

    func be16(_ at: Int) -> UInt16 {
        precondition(at >= 0 && at + 2 <= count, "be16 outside the structure")
        return UInt16(self[at]) << 8 | UInt16(self[at + 1])
    }

    mutating func putBE32(_ value: UInt32, at: Int) {
        for i in 0..<4 { self[at + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * i)) }
    }

    mutating func putBE64(_ value: UInt64, at: Int) {
        putBE32(UInt32(truncatingIfNeeded: value >> 32), at: at)
        putBE32(UInt32(truncatingIfNeeded: value), at: at + 4)
    }

    mutating func putBytes(_ bytes: [UInt8], at: Int) {
        precondition(at + bytes.count <= count, "putBytes outside the structure")
        for (i, b) in bytes.enumerated() { self[at + i] = b }
    }

    func slice(_ at: Int, _ length: Int) -> [UInt8] { Array(self[at..<(at + length)]) }

    func allZero(from: Int, to: Int) -> Bool { self[from..<to].allSatisfy { $0 == 0 } }
}

/// A four-character code as VHD stores them (creator application, host OS, platform code).
func fourCC(_ text: String) -> UInt32 {
    let bytes = Array(text.utf8)
    precondition(bytes.count == 4, "a four-character code has four bytes")
    return bytes.reduce(0) { $0 << 8 | UInt32($1) }
}

/// A four-character code printed for people: printable ASCII, else hex.
func fourCCText(_ code: UInt32) -> String {
    let bytes = (0..<4).map { UInt8(truncatingIfNeeded: code >> (24 - 8 * $0)) }
    if bytes.allSatisfy({ $0 == 0 || (0x20...0x7E).contains($0) }) {
        return String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
    }
    return "0x" + String(code, radix: 16)
}

/// Round `value` up to a multiple of `unit` (a power of two or any positive number).
@inline(__always)
func roundUp(_ value: UInt64, to unit: UInt64) -> UInt64 { (value + unit - 1) / unit * unit }

/// The VHD checksum: ones' complement of the byte sum, with the checksum field zeroed.
func vhdChecksum(_ bytes: [UInt8], skipping field: Range<Int>?) -> UInt32 {
    var sum: UInt32 = 0
    for (i, b) in bytes.enumerated() where !(field?.contains(i) ?? false) {
        sum &+= UInt32(b)
    }
    return ~sum
}
