import StorageIO

/// Page-aligned I/O buffers in power-of-two size classes, reused instead of freed: after a
/// short warm-up, serving a request allocates nothing, whatever mix of sizes clients send.
///
/// One cache serves every connection of a loop (it is not thread-safe). Classes run from
/// `DataPathLimits.bufferBytesMin` up to the largest payload; each keeps at most
/// `DataPathLimits.buffersKept` free buffers and releases the rest.
final class BufferCache {
    private var free: [[UnsafeMutableRawPointer]]
    private let classCount: Int
    /// Buffers allocated since the cache was made (tests watch it stay flat).
    private(set) var allocations = 0

    init(payloadBytesMax: Int = DataPathLimits.payloadBytesMax) {
        var count = 1
        while DataPathLimits.bufferBytesMin << (count - 1) < payloadBytesMax { count += 1 }
        classCount = count
        free = (0..<count).map { index in
            var list: [UnsafeMutableRawPointer] = []
            list.reserveCapacity(DataPathLimits.buffersKept(classBytes: DataPathLimits.bufferBytesMin << index))
            return list
        }
    }

    deinit {
        for list in free { for p in list { p.deallocate() } }
    }

    /// Allocates ahead of time what one connection's hot path uses (small reads and writes).
    func prewarm(count: Int, bytes: Int) {
        let c = classIndex(bytes)
        let kept = DataPathLimits.buffersKept(classBytes: classBytes(c))
        while free[c].count < min(count, kept) { free[c].append(allocate(classBytes(c))) }
    }

    @inline(__always)
    func classIndex(_ bytes: Int) -> Int {
        guard bytes > DataPathLimits.bufferBytesMin else { return 0 }
        let units = (bytes - 1) / DataPathLimits.bufferBytesMin + 1
        return Int.bitWidth - (units - 1).leadingZeroBitCount
    }

    @inline(__always)
    func classBytes(_ index: Int) -> Int { DataPathLimits.bufferBytesMin << index }

    /// A buffer of at least `bytes` bytes.
    @inline(__always)
    func take(_ bytes: Int) -> UnsafeMutableRawPointer {
        let c = classIndex(bytes)
        precondition(c < classCount, "buffer of \(bytes) bytes exceeds the largest payload")
        if let p = free[c].popLast() { return p }
        return allocate(classBytes(c))
    }

    /// Returns a buffer obtained from `take(bytes)` with the same `bytes`.
    @inline(__always)
    func give(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let c = classIndex(bytes)
        if free[c].count < DataPathLimits.buffersKept(classBytes: classBytes(c)) {
            free[c].append(p)
        } else {
            p.deallocate()
        }
    }

    private func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        allocations += 1
        return .allocate(byteCount: bytes, alignment: StorageLimits.bufferAlignment)
    }
}
