/// The self-describing block written when a job verifies: a header naming where the block
/// belongs, pseudo-random data, and a CRC-32C over the data. A read checks all three, so a
/// misplaced, stale-from-elsewhere or corrupted block is caught.
enum VerifyBlock {
    static let magic: UInt64 = 0x5653_4843_4E45_424D // "MBENCHSV" little-endian
    static let headerBytes = 32

    /// Fills `buffer` for `offset`, generation `generation`.
    static func stamp(_ buffer: UnsafeMutableRawPointer, length: Int, offset: UInt64, generation: UInt64) {
        var random = OffsetRandom(seed: offset ^ (generation &* 0x9E37_79B9_7F4A_7C15) | 1)
        let words = (length - headerBytes) / 8
        let data = (buffer + headerBytes).bindMemory(to: UInt64.self, capacity: words)
        for i in 0..<words { data[i] = random.next() }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: buffer + headerBytes, count: length - headerBytes))
        buffer.storeBytes(of: magic, as: UInt64.self)
        buffer.storeBytes(of: offset, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: generation, toByteOffset: 16, as: UInt64.self)
        buffer.storeBytes(of: crc, toByteOffset: 24, as: UInt32.self)
        buffer.storeBytes(of: UInt32(length), toByteOffset: 28, as: UInt32.self)
    }

    /// nil when the block read at `offset` is intact, else what is wrong with it.
    static func check(_ buffer: UnsafeRawPointer, length: Int, offset: UInt64) -> String? {
        let magicRead = buffer.loadUnaligned(as: UInt64.self)
        guard magicRead == magic else { return "bad header magic (block never written with verify?)" }
        let offsetRead = buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        guard offsetRead == offset else { return "block belongs at offset \(offsetRead)" }
        let lengthRead = buffer.loadUnaligned(fromByteOffset: 28, as: UInt32.self)
        guard lengthRead == UInt32(length) else { return "block was written with bs=\(lengthRead)" }
        let crcRead = buffer.loadUnaligned(fromByteOffset: 24, as: UInt32.self)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: buffer + headerBytes, count: length - headerBytes))
        guard crc == crcRead else { return "crc32c mismatch: stored \(hex(crcRead)), computed \(hex(crc))" }
        return nil
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
