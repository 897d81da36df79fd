import Foundation

/// VDI and SR identities: lowercase RFC 4122 text, as XenServer prints them.
public enum UUIDText {
    public static func random() -> String { UUID().uuidString.lowercased() }

    /// 8-4-4-4-12 hexadecimal digits.
    public static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return parts.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }
}
