/// Big-endian integer stores and loads on raw memory: the hot path encodes replies straight
/// into preallocated slot memory, without arrays.
extension UnsafeMutableRawPointer {
    @inline(__always) public func storeBE(_ v: UInt16, at offset: Int) {
        storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt16.self)
    }
    @inline(__always) public func storeBE(_ v: UInt32, at offset: Int) {
        storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inline(__always) public func storeBE(_ v: UInt64, at offset: Int) {
        storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt64.self)
    }
}

extension UnsafeRawPointer {
    @inline(__always) public func loadBE(_: UInt16.Type, at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inline(__always) public func loadBE(_: UInt32.Type, at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) public func loadBE(_: UInt64.Type, at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

/// Appends big-endian fields to a byte array: for negotiation messages, which are rare.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
    public mutating func raw(_ v: [UInt8]) { bytes.append(contentsOf: v) }
    public mutating func string(_ s: String) { bytes.append(contentsOf: Array(s.utf8)) }
    public mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }
}

/// Reads big-endian fields from a byte array, failing (nil) instead of reading past its end:
/// every length in an option is distrusted.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var position = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var remaining: Int { bytes.count - position }

    public mutating func u16() -> UInt16? { fixed(2).map { $0.reduce(0) { $0 << 8 | UInt16($1) } } }
    public mutating func u32() -> UInt32? { fixed(4).map { $0.reduce(0) { $0 << 8 | UInt32($1) } } }
    public mutating func u64() -> UInt64? { fixed(8).map { $0.reduce(0) { $0 << 8 | UInt64($1) } } }

    /// `count` bytes, or nil when fewer remain.
    public mutating func fixed(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, count <= remaining else { return nil }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    /// A string of `count` bytes; nil when too short or not UTF-8.
    public mutating func string(_ count: Int) -> String? {
        guard let slice = fixed(count) else { return nil }
        return String(validating: slice, as: UTF8.self)
    }
}
