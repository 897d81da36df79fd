/// A VHD unique id: 16 raw bytes, compared byte for byte (footer id, parent id).
public struct VHDUUID: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "a UUID has 16 bytes")
        self.bytes = bytes
    }

    public static let null = VHDUUID(bytes: [UInt8](repeating: 0, count: 16))

    /// A random (version 4) UUID.
    public static func random() -> VHDUUID {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return VHDUUID(bytes: bytes)
    }

    public var isNull: Bool { bytes.allSatisfy { $0 == 0 } }

    public var description: String {
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }
}
