import StorageIO

/// Byte-granular reads and writes over a store that may demand aligned I/O (O_DIRECT).
///
/// Image formats address single sectors (a BAT sector, a bitmap, a footer) and, in images
/// other tools wrote, data that is not page-aligned. These helpers bounce through aligned
/// buffers and read-modify-write the edges, so format code never thinks about alignment;
/// fully aligned requests go straight through.
extension BlockIO {
    /// Reads exactly `buffer.count` bytes at `offset`.
    func readFully(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard buffer.count > 0 else { return }
        let a = UInt64(capabilities.alignment)
        let chunkMax = chunkBytes
        if offset % a == 0 && UInt64(buffer.count) % a == 0 && UInt(bitPattern: buffer.baseAddress) % UInt(a) == 0 {
            var done = 0
            while done < buffer.count {
                let n = min(chunkMax, buffer.count - done)
                try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)]), at: offset + UInt64(done))
                done += n
            }
            return
        }
        var done = 0
        while done < buffer.count {
            let pos = offset + UInt64(done)
            let start = pos / a * a
            let n = min(chunkMax - Int(pos - start), buffer.count - done)
            let end = roundUp(pos + UInt64(n), to: a)
            let bounce = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(end - start), alignment: max(Int(a), 16))
            defer { bounce.deallocate() }
            try read(into: bounce, at: start)
            let skip = Int(pos - start)
            UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bounce[skip..<(skip + n)]))
            done += n
        }
    }

    /// Writes exactly `data.count` bytes at `offset`, reading back partial aligned units.
    func writeFully(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard data.count > 0 else { return }
        let a = UInt64(capabilities.alignment)
        let chunkMax = chunkBytes
        if offset % a == 0 && UInt64(data.count) % a == 0 && UInt(bitPattern: data.baseAddress) % UInt(a) == 0 {
            var done = 0
            while done < data.count {
                let n = min(chunkMax, data.count - done)
                try write(UnsafeRawBufferPointer(rebasing: data[done..<(done + n)]), at: offset + UInt64(done))
                done += n
            }
            return
        }
        var done = 0
        while done < data.count {
            let pos = offset + UInt64(done)
            let start = pos / a * a
            let n = min(chunkMax - Int(pos - start), data.count - done)
            let end = roundUp(pos + UInt64(n), to: a)
            let bounce = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(end - start), alignment: max(Int(a), 16))
            defer { bounce.deallocate() }
            if pos != start {
                try read(into: UnsafeMutableRawBufferPointer(rebasing: bounce[0..<Int(a)]), at: start)
            }
            if pos + UInt64(n) != end && (end - a >= start + a || pos == start) {
                try read(into: UnsafeMutableRawBufferPointer(rebasing: bounce[Int(end - a - start)...]), at: end - a)
            }
            let skip = Int(pos - start)
            UnsafeMutableRawBufferPointer(rebasing: bounce[skip..<(skip + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: data[done..<(done + n)]))
            try write(UnsafeRawBufferPointer(bounce), at: start)
            done += n
        }
    }

    /// Reads `count` bytes at `offset` into a new array (metadata).
    func readBytes(count: Int, at offset: UInt64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try readFully(into: $0, at: offset) }
        return out
    }

    func writeBytes(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try writeFully($0, at: offset) }
    }

    /// Writes `count` zero bytes at `offset`.
    func writeZeros(count: UInt64, at offset: UInt64) throws {
        let chunk = Int(min(count, UInt64(chunkBytes)))
        guard chunk > 0 else { return }
        let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        var done: UInt64 = 0
        while done < count {
            let n = Int(min(UInt64(chunk), count - done))
            try writeFully(UnsafeRawBufferPointer(rebasing: zeros[0..<n]), at: offset + done)
            done += UInt64(n)
        }
    }

    /// The largest piece one request carries here: the store's limit, capped for metadata.
    private var chunkBytes: Int {
        let a = capabilities.alignment
        return max(a, min(capabilities.transferBytesMax, VHDLimits.metadataTransferBytesMax) / a * a)
    }
}
