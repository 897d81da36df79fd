import StorageIO

/// Many small metadata writes (the bitmaps of every block a copy allocated) in flight at
/// once rather than one synchronous request each: a flush after a large copy writes
/// hundreds of them, and their round trips would cost more than the data they carry.
extension BlockIO {
    /// Writes each piece at its offset, `VHDLimits.metadataWritesInFlightMax` at a time;
    /// returns when all have completed, throwing the first failure. Pieces the store cannot
    /// take as they are (not whole alignment units) go through `writeBytes`, which bounces them.
    func writeBatch(_ pieces: [(bytes: [UInt8], offset: UInt64)]) throws {
        let a = capabilities.alignment
        let isDirect = { (p: (bytes: [UInt8], offset: UInt64)) in p.offset % UInt64(a) == 0 && p.bytes.count % a == 0 }
        for p in pieces where !isDirect(p) { try writeBytes(p.bytes, at: p.offset) }
        let direct = pieces.filter { isDirect($0) && !$0.bytes.isEmpty }
        guard !direct.isEmpty else { return }
        // One aligned region holds every direct piece; a batch is written from its part.
        let total = direct.reduce(0) { $0 + $1.bytes.count }
        let region = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: max(a, 16))
        defer { region.deallocate() }
        let depth = min(direct.count, VHDLimits.metadataWritesInFlightMax)
        let requests = (0..<depth).map { _ in IORequest() }
        // A store that dies (closed, a simulated power loss) completes nothing more: waits
        // end there instead of waiting forever.
        let settled = { self.isClosed || requests.allSatisfy(\.isComplete) }
        defer { loop.run(until: settled) }
        var at = 0, next = 0
        while next < direct.count {
            loop.run(until: { self.isClosed || requests.contains(where: \.isComplete) })
            for r in requests where r.isComplete && next < direct.count && !isClosed {
                if let failure = r.failure { throw failure }
                let p = direct[next]
                let slice = UnsafeMutableRawBufferPointer(rebasing: region[at..<(at + p.bytes.count)])
                slice.copyBytes(from: p.bytes)
                r.operation = .write
                r.buffer = slice.baseAddress
                r.length = p.bytes.count
                r.offset = p.offset
                submit(r)
                at += p.bytes.count
                next += 1
            }
            if isClosed { break }
        }
        loop.run(until: settled)
        if let failure = requests.lazy.compactMap(\.failure).first { throw failure }
        if !requests.allSatisfy(\.isComplete) { throw BlockIOError.closed(store: name, operation: .write) }
    }
}
