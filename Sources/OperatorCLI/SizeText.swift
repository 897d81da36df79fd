/// Sizes as operators type them: bytes, or a number with a binary unit (64MiB, 10GiB, 2TiB;
/// K/M/G/T and KB/MB/GB/TB are read as binary too, as xe does), and back for display.
public enum SizeText {
    static let units: [(String, UInt64)] = [
        ("tib", 1 << 40), ("gib", 1 << 30), ("mib", 1 << 20), ("kib", 1 << 10),
        ("tb", 1 << 40), ("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10),
        ("t", 1 << 40), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10), ("b", 1),
    ]

    public static func parse(_ text: String) -> UInt64? {
        let t = text.trimmingCharacters(in: " ").lowercased()
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            let number = String(t.dropLast(suffix.count)).trimmingCharacters(in: " ")
            guard let n = UInt64(number), n > 0 || number == "0" else { return nil }
            let (v, overflow) = n.multipliedReportingOverflow(by: scale)
            return overflow ? nil : v
        }
        return UInt64(t)
    }

    /// 2147483648 → "2 GiB"; 3221225472 → "3 GiB"; 1536 → "1.5 KiB".
    public static func format(_ bytes: UInt64) -> String {
        let names = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes), i = 0
        while value >= 1024 && i < names.count - 1 { value /= 1024; i += 1 }
        if i == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int(rounded)) \(names[i])" : "\(rounded) \(names[i])"
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
