/// XML 1.0's Char production: what may appear in a document at all. SM refuses labels with
/// anything else (IllegalXMLChar, 447) before storing them.
public enum XMLCharacters {
    public static func isLegal(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x9, 0xA, 0xD: true
        case 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }

    /// The first character of `text` that XML cannot carry, if any.
    public static func firstIllegal(in text: String) -> Unicode.Scalar? {
        text.unicodeScalars.first { !isLegal($0) }
    }
}
