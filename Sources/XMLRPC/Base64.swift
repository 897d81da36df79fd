import Foundation

/// XML-RPC's base64 (RFC 2045 alphabet; whitespace in the input is ignored).
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    static func decode(_ text: String) -> [UInt8]? {
        let compact = text.filter { !$0.isWhitespace }
        return Data(base64Encoded: compact).map(Array.init)
    }
}
