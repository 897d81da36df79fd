/// fio's value syntax: sizes with binary suffixes, times with units, booleans.
enum OptionValue {
    /// "4k", "1M", "2g", "4KiB", "512" → bytes (fio's default kb_base=1024).
    static func size(_ text: String) -> UInt64? {
        let lower = text.lowercased().replacingOccurrences(of: "ib", with: "").replacingOccurrences(of: "b", with: "")
        let units: [(String, UInt64)] = [("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("t", 1 << 40), ("p", 1 << 50)]
        for (suffix, multiplier) in units where lower.hasSuffix(suffix) {
            guard let value = UInt64(lower.dropLast()) else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
            return overflow ? nil : product
        }
        return UInt64(lower)
    }

    /// "10" (seconds), "10s", "500ms", "2m", "1h", "100us" → seconds.
    static func seconds(_ text: String) -> Double? {
        let lower = text.lowercased()
        let units: [(String, Double)] = [("usec", 1e-6), ("us", 1e-6), ("msec", 1e-3), ("ms", 1e-3),
                                         ("sec", 1), ("s", 1), ("min", 60), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, multiplier) in units where lower.hasSuffix(suffix) {
            return Double(lower.dropLast(suffix.count)).map { $0 * multiplier }
        }
        return Double(lower)
    }

    /// "1"/"0", "true"/"false", "yes"/"no"; a bare key means true.
    static func bool(_ text: String?) -> Bool? {
        guard let text else { return true }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: return nil
        }
    }
}
