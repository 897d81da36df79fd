/// A most-significant-bit-first bit vector, the bit order of VHD sector bitmaps and the batmap.
public struct BitVector: Equatable, Sendable {
    public private(set) var bytes: [UInt8]
    public let count: Int

    public init(count: Int, byteCount: Int? = nil) {
        self.count = count
        bytes = [UInt8](repeating: 0, count: byteCount ?? (count + 7) / 8)
    }

    public init(bytes: [UInt8], count: Int) {
        precondition(bytes.count * 8 >= count, "bit vector bytes too short")
        self.bytes = bytes
        self.count = count
    }

    @inline(__always)
    public func test(_ i: Int) -> Bool { bytes[i >> 3] & (0x80 >> UInt8(i & 7)) != 0 }

    @inline(__always)
    public mutating func set(_ i: Int) { bytes[i >> 3] |= 0x80 >> UInt8(i & 7) }

    @inline(__always)
    public mutating func clear(_ i: Int) { bytes[i >> 3] &= ~(0x80 >> UInt8(i & 7)) }

    /// Sets bits `range`; true when any bit changed.
    @discardableResult
    public mutating func set(_ range: Range<Int>) -> Bool {
        var changed = false
        var i = range.lowerBound
        while i < range.upperBound {
            if i & 7 == 0 && i + 8 <= range.upperBound {
                if bytes[i >> 3] != 0xFF { bytes[i >> 3] = 0xFF; changed = true }
                i += 8
            } else {
                if !test(i) { set(i); changed = true }
                i += 1
            }
        }
        return changed
    }

    /// The end of the run of bits equal to `test(from)` that starts at `from`, at most `limit`.
    public func runEnd(from: Int, limit: Int) -> Int {
        let value = test(from)
        let full: UInt8 = value ? 0xFF : 0x00
        var i = from + 1
        while i < limit {
            if i & 7 == 0 && i + 8 <= limit && bytes[i >> 3] == full { i += 8; continue }
            if test(i) != value { return i }
            i += 1
        }
        return limit
    }

    public func allSet(_ range: Range<Int>) -> Bool { range.isEmpty || (test(range.lowerBound) && runEnd(from: range.lowerBound, limit: range.upperBound) == range.upperBound) }
    public func noneSet(_ range: Range<Int>) -> Bool { range.isEmpty || (!test(range.lowerBound) && runEnd(from: range.lowerBound, limit: range.upperBound) == range.upperBound) }
    public var isFull: Bool { allSet(0..<count) }
    public var isEmpty: Bool { noneSet(0..<count) }
}

/// The bitmap in front of each VHD data block: bit s set means sector s of the block is
/// present in this file; clear means "read the parent" (or zeros at the end of a chain).
public typealias SectorBitmap = BitVector
