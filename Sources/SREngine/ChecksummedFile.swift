/// The framing of every small file the engine owns (SR metadata, journals): a header line
/// `SMFILE <kind> <version> <crc32> <length>` followed by the body, so a file cut short or
/// damaged is refused instead of half-read.
enum ChecksummedFile {
    static let magic = "SMFILE"

    static func encode(kind: String, version: Int, body: [UInt8]) -> [UInt8] {
        let crc = String(CRC32.checksum(body), radix: 16)
        return Array("\(magic) \(kind) \(version) \(crc) \(body.count)\n".utf8) + body
    }

    /// Returns the body, or throws `metadataCorrupt` naming what is wrong.
    static func decode(_ bytes: [UInt8], kind: String, version: Int, path: String) throws -> [UInt8] {
        guard let newline = bytes.prefix(128).firstIndex(of: UInt8(ascii: "\n")) else {
            throw SREngineError.metadataCorrupt(path: path, detail: "no header line")
        }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard fields.count == 5, fields[0] == magic, fields[1] == kind else {
            throw SREngineError.metadataCorrupt(path: path, detail: "not a \(kind) file")
        }
        guard Int(fields[2]) == version else {
            throw SREngineError.metadataCorrupt(path: path, detail: "version \(fields[2]) is not \(version)")
        }
        let body = Array(bytes[(newline + 1)...])
        guard let length = Int(fields[4]), length == body.count else {
            throw SREngineError.metadataCorrupt(path: path, detail: "length \(fields[4]) but \(body.count) bytes follow")
        }
        guard let crc = UInt32(fields[3], radix: 16), crc == CRC32.checksum(body) else {
            throw SREngineError.metadataCorrupt(path: path, detail: "checksum mismatch")
        }
        return body
    }
}
