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
        var at = 0, next = 0, failure: BlockIOError?
        defer { loop.run(until: { requests.allSatisfy(\.isComplete) }) }
        while next < direct.count || !requests.allSatisfy(\.isComplete) {
            for r in requests where r.isComplete && next < direct.count {
                failure = failure ?? r.failure
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
            if let failure { throw failure }
            loop.run(until: { requests.contains(where: \.isComplete) && next < direct.count || requests.allSatisfy(\.isComplete) })
        }
        if let failure = failure ?? requests.lazy.compactMap(\.failure).first { throw failure }
    }
}
