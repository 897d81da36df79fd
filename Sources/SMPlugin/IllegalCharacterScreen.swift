import XMLRPC

/// Lets a call whose strings hold characters XML cannot carry be parsed, so it can be
/// refused with IllegalXMLChar (447) naming the field, instead of failing as unparsable.
///
/// XAPI writes labels byte for byte, so a name-label with a control character reaches us as
/// a document no XML parser accepts. Before parsing, every such character (raw, or written
/// as a character reference like `&#1;`) is replaced by a private-use marker that XML does
/// allow; after parsing, any string holding the marker is refused. A document that already
/// contains the marker is left alone (then the parser decides).
enum IllegalCharacterScreen {
    /// U+10FFFD: a legal XML character no XAPI field uses.
    static let marker: Unicode.Scalar = "\u{10FFFD}"

    struct Screened {
        var text: String
        /// The illegal code points replaced, in document order.
        var replaced: [UInt32]
    }

    static func screen(_ text: String) -> Screened {
        let scalars = Array(text.unicodeScalars)
        if scalars.contains(marker) { return Screened(text: text, replaced: []) }
        var out = String.UnicodeScalarView()
        var replaced: [UInt32] = []
        var i = 0
        while i < scalars.count {
            let s = scalars[i]
            if !XMLCharacters.isLegal(s) {
                out.append(marker)
                replaced.append(s.value)
                i += 1
                continue
            }
            if s == "&", let (value, length) = characterReference(scalars, at: i), !isLegal(value) {
                out.append(marker)
                replaced.append(value)
                i += length
                continue
            }
            out.append(s)
            i += 1
        }
        return Screened(text: String(out), replaced: replaced)
    }

    static func isLegal(_ value: UInt32) -> Bool {
        guard let s = Unicode.Scalar(value) else { return false }
        return XMLCharacters.isLegal(s)
    }

    /// A numeric character reference `&#N;` or `&#xH;` starting at `start`: its value and length.
    static func characterReference(_ s: [Unicode.Scalar], at start: Int) -> (UInt32, Int)? {
        var i = start + 1
        guard i < s.count, s[i] == "#" else { return nil }
        i += 1
        var radix: UInt32 = 10
        if i < s.count, s[i] == "x" || s[i] == "X" { radix = 16; i += 1 }
        var value: UInt64 = 0
        var digits = 0
        while i < s.count, s[i] != ";" {
            guard let d = Character(s[i]).hexDigitValue, UInt32(d) < radix, digits < 10 else { return nil }
            value = value * UInt64(radix) + UInt64(d)
            digits += 1
            i += 1
        }
        guard i < s.count, digits > 0 else { return nil }
        return (UInt32(clamping: value), i - start + 1)
    }

    /// The first string in `value` holding the marker, as a path (`args[1]`, `device_config.location`).
    static func firstMarked(_ value: XMLRPCValue, path: String) -> String? {
        switch value {
        case let .string(text): return text.unicodeScalars.contains(marker) ? path : nil
        case let .array(items):
            for (index, item) in items.enumerated() {
                if let p = firstMarked(item, path: "\(path)[\(index)]") { return p }
            }
            return nil
        case let .structure(members):
            for (name, member) in members {
                let here = path.isEmpty ? name : "\(path).\(name)"
                if name.unicodeScalars.contains(marker) { return here }
                if let p = firstMarked(member, path: here) { return p }
            }
            return nil
        default: return nil
        }
    }
}
