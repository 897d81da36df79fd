/// One of the eight parent locator entries of a differencing disk's header: where a path to
/// the parent is stored, in which platform encoding.
///
/// We write three, like blktap: MacX (file URL, UTF-8), W2ku and W2ru (UTF-16LE), all holding
/// the path relative to the child's directory, so a chain survives being moved as a whole.
public struct ParentLocator: Equatable, Sendable {
    public static let entryBytes = 24
    public static let codeNone: UInt32 = 0
    public static let codeMacX = fourCC("MacX")
    public static let codeW2ku = fourCC("W2ku")
    public static let codeW2ru = fourCC("W2ru")
    public static let codeWi2r = fourCC("Wi2r")
    public static let codeWi2k = fourCC("Wi2k")
    public static let codeMac = fourCC("Mac ")

    public var platformCode: UInt32
    /// As stored: sectors when below 512, else bytes (libvhd writes bytes, like Microsoft).
    public var dataSpace: UInt32
    public var dataLength: UInt32
    public var reserved: UInt32 = 0
    public var dataOffset: UInt64

    public init(platformCode: UInt32, dataSpace: UInt32, dataLength: UInt32, dataOffset: UInt64) {
        self.platformCode = platformCode
        self.dataSpace = dataSpace
        self.dataLength = dataLength
        self.dataOffset = dataOffset
    }

    public static let empty = ParentLocator(platformCode: 0, dataSpace: 0, dataLength: 0, dataOffset: 0)

    public var isEmpty: Bool { platformCode == ParentLocator.codeNone }

    /// The reserved space in bytes; nil when `dataSpace` is neither a sector count (<512)
    /// nor a whole number of sectors in bytes.
    public var spaceBytes: UInt64? {
        if dataSpace < 512 { return UInt64(dataSpace) * VHDLimits.sectorBytes }
        return dataSpace % 512 == 0 ? UInt64(dataSpace) : nil
    }

    func encode(into b: inout [UInt8], at: Int) {
        b.putBE32(platformCode, at: at)
        b.putBE32(dataSpace, at: at + 4)
        b.putBE32(dataLength, at: at + 8)
        b.putBE32(reserved, at: at + 12)
        b.putBE64(dataOffset, at: at + 16)
    }

    static func decode(_ b: [UInt8], at: Int) -> ParentLocator {
        var l = ParentLocator(platformCode: b.be32(at), dataSpace: b.be32(at + 4), dataLength: b.be32(at + 8),
                              dataOffset: b.be64(at + 16))
        l.reserved = b.be32(at + 12)
        return l
    }

    /// The stored bytes for `relativePath` (a `/`-separated path) in platform `code`.
    public static func encodePath(_ relativePath: String, code: UInt32) -> [UInt8] {
        if code == codeMacX { return Array(("file://" + relativePath).utf8) }
        var windows = relativePath.replacingAll("/", with: "\\")
        if !relativePath.hasPrefix("/") && !windows.hasPrefix(".\\") && !windows.hasPrefix("..\\") {
            windows = ".\\" + windows
        }
        return windows.utf16.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
    }

    /// Decodes a locator payload into a `/`-separated path; nil when the bytes are not a
    /// valid path in the locator's encoding.
    public static func decodePath(_ data: [UInt8], code: UInt32) -> String? {
        guard !data.isEmpty else { return nil }
        var text: String
        switch code {
        case codeMacX:
            guard let s = String(validating: data, as: UTF8.self) else { return nil }
            text = s.hasPrefix("file://") ? String(s.dropFirst(7)) : s
        case codeW2ku, codeW2ru, codeWi2r, codeWi2k:
            guard data.count % 2 == 0 else { return nil }
            let units = stride(from: 0, to: data.count, by: 2).map { UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8 }
            guard let s = String(validating: units, as: UTF16.self) else { return nil }
            text = s.replacingAll("\\", with: "/")
            if text.count >= 2, text.dropFirst().first == ":" { text = String(text.dropFirst(2)) }
        default:
            return nil
        }
        while text.hasSuffix("\0") { text.removeLast() }
        guard !text.isEmpty, !text.contains("\0") else { return nil }
        return text
    }
}

extension String {
    /// Replaces every occurrence of `target` (no Foundation in this module).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}
