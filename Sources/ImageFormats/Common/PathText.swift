import Glibc

/// Lexical path arithmetic for parent locators (no Foundation, no file system access
/// except `getcwd` to anchor relative paths).
public enum PathText {
    public static func basename(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return parts.last.map(String.init) ?? path
    }

    public static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func join(_ dir: String, _ rel: String) -> String {
        if rel.hasPrefix("/") { return normalize(rel) }
        return normalize(dir + "/" + rel)
    }

    /// Makes `path` absolute (against the working directory) and removes `.` and `..`.
    static func normalize(_ path: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let cwd = getcwd(&buffer, buffer.count) != nil
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/"
            full = cwd + "/" + path
        }
        var out: [Substring] = []
        for part in full.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(part)
        }
        return "/" + out.joined(separator: "/")
    }

    /// The path of `target` relative to directory `fromDir`.
    static func relative(from fromDir: String, to target: String) -> String {
        let from = normalize(fromDir).split(separator: "/"), to = normalize(target).split(separator: "/")
        var common = 0
        while common < from.count, common < to.count - 1, from[common] == to[common] { common += 1 }
        let ups = Array(repeating: "..", count: from.count - common)
        return (ups + to[common...].map(String.init)).joined(separator: "/")
    }
}
