/// A byte offset in the guest's address space (the virtual disk).
///
/// Distinct from `HostOffset` so that a guest offset can never be used as a file offset
/// by accident: converting between them is the whole job of an image format.
public struct VirtualOffset: Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    public var bytes: UInt64
    public init(_ bytes: UInt64) { self.bytes = bytes }
    public init(integerLiteral value: UInt64) { self.bytes = value }
    public static func < (a: Self, b: Self) -> Bool { a.bytes < b.bytes }
    public static func + (a: Self, b: UInt64) -> Self { Self(a.bytes + b) }
    public var description: String { "virtual \(bytes)" }
}

/// A byte offset inside an image file (the BlockIO store holding one layer).
public struct HostOffset: Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    public var bytes: UInt64
    public init(_ bytes: UInt64) { self.bytes = bytes }
    public init(integerLiteral value: UInt64) { self.bytes = value }
    public static func < (a: Self, b: Self) -> Bool { a.bytes < b.bytes }
    public static func + (a: Self, b: UInt64) -> Self { Self(a.bytes + b) }
    public var description: String { "host \(bytes)" }
}
