import ImageFormats
import StorageIO

/// One run of sectors an image holds itself: where it is in the guest and in the file.
struct AllocatedRun: Equatable {
    var virtual: UInt64
    var host: UInt64
    var length: UInt64
}

/// Copies the sectors a VHD holds itself (never its parents') into another VHD, the data
/// mover of coalesce.
///
/// Only what the allocation maps say the source holds is read: unallocated BAT entries are
/// skipped, batmap-full blocks are taken whole without reading their bitmap, other blocks
/// by the runs of set bitmap bits (vhd-util coalesce's rules). Nothing is read from the
/// target to compare. Runs are read in file order and merged across the bitmap sectors and
/// alignment gaps between blocks into reads of up to `SRLimits.coalesceReadBytesMax`, with
/// `SRLimits.coalesceReadAheadCountMax` reads in flight while the previous one is written,
/// so a coalesce streams through the source like a sequential read.
///
/// Rewriting the target with the same data is harmless, so a copy cut short (crash, abort)
/// is simply done again.
enum AllocatedCopy {
    /// The source's own runs, in guest order.
    static func runs(of source: VHDImage) throws -> [AllocatedRun] {
        let bb = source.blockBytes, size = source.virtualSize, sector = VHDLimits.sectorBytes
        let blocks = Int((size + bb - 1) / bb)
        var out: [AllocatedRun] = []
        func add(_ v: UInt64, _ h: UInt64, _ n: UInt64) {
            let n = min(n, size - v)
            guard n > 0 else { return }
            if var last = out.last, last.virtual + last.length == v, last.host + last.length == h {
                last.length += n
                out[out.count - 1] = last
            } else {
                out.append(AllocatedRun(virtual: v, host: h, length: n))
            }
        }
        for b in 0..<blocks {
            let base = UInt64(b) * bb
            var state = source.blockSummary(b)
            if state == nil { state = try source.layerBlock(b) }
            switch state! {
            case .absent: continue
            case let .full(dataStart): add(base, dataStart.bytes, bb)
            case let .partial(dataStart, bitmap):
                var s = 0
                while s < bitmap.count {
                    let e = bitmap.runEnd(from: s, limit: bitmap.count)
                    if bitmap.test(s) { add(base + UInt64(s) * sector, dataStart.bytes + UInt64(s) * sector, UInt64(e - s) * sector) }
                    s = e
                }
            }
        }
        return out
    }

    /// Bytes the runs hold.
    static func bytes(_ runs: [AllocatedRun]) -> UInt64 { runs.reduce(0) { $0 + $1.length } }

    /// A read covering several runs that lie close together in the source file.
    struct ReadGroup {
        var start: UInt64
        var end: UInt64
        var runs: [AllocatedRun]
    }

    /// Sorts runs by file position and merges neighbours into aligned reads.
    static func groups(_ runs: [AllocatedRun], alignment: UInt64, fileSize: UInt64, readMax: UInt64) -> [ReadGroup] {
        var out: [ReadGroup] = []
        for r in runs.sorted(by: { $0.host < $1.host }) {
            let start = r.host / alignment * alignment
            let end = min(fileSize, (r.host + r.length + alignment - 1) / alignment * alignment)
            if var g = out.last, start >= g.start, start <= g.end + SRLimits.coalesceMergeGapBytesMax,
               max(end, g.end) - g.start <= readMax {
                g.end = max(end, g.end)
                g.runs.append(r)
                out[out.count - 1] = g
            } else {
                out.append(ReadGroup(start: start, end: end, runs: [r]))
            }
        }
        return out
    }

    /// Copies `runs` of `source` into `target` (same virtual size), then flushes the target.
    /// `progress` gets the bytes copied so far after every read; it may throw to stop.
    ///
    /// A run landing where the target already holds every sector (its block batmap-full, or
    /// its bitmap bits set) changes no target metadata: it is written straight to the
    /// target's store, asynchronously, so reads and writes both stay at queue depth. Other
    /// runs go through `VHDImage.write`, which allocates and orders the metadata.
    static func copy(_ runs: [AllocatedRun], from source: VHDImage, into target: VHDImage,
                     progress: (UInt64) throws -> Void) throws {
        let store = source.store, loop = store.loop
        let alignment = UInt64(max(store.capabilities.alignment, 4096))
        let readMax = min(UInt64(SRLimits.coalesceReadBytesMax),
                          UInt64(store.capabilities.transferBytesMax) / alignment * alignment)
        let groups = Self.groups(runs, alignment: alignment, fileSize: store.size, readMax: readMax)
        guard !groups.isEmpty else { return }
        let depth = SRLimits.coalesceReadAheadCountMax
        let slots = 2 * depth  // a slot's buffer is busy from its read until its writes complete
        let buffers = (0..<slots).map { _ in
            UnsafeMutableRawBufferPointer.allocate(byteCount: Int(readMax + 2 * alignment), alignment: Int(alignment))
        }
        let reads = (0..<slots).map { _ in IORequest() }
        var writes: [[IORequest]] = Array(repeating: [], count: slots)
        func idle() -> Bool { reads.allSatisfy(\.isComplete) && writes.allSatisfy { $0.allSatisfy(\.isComplete) } }
        defer {
            loop.run(until: idle)
            buffers.forEach { $0.deallocate() }
        }
        func waitWrites(_ slot: Int) throws {
            loop.run(until: { writes[slot].allSatisfy(\.isComplete) })
            if let failure = writes[slot].lazy.compactMap(\.failure).first { throw failure }
        }
        func submitRead(_ index: Int) throws {
            let slot = index % slots, g = groups[index], r = reads[slot]
            try waitWrites(slot)
            r.operation = .read
            r.buffer = buffers[slot].baseAddress
            r.length = Int(g.end - g.start)
            r.offset = g.start
            store.submit(r)
        }
        for i in 0..<min(depth, groups.count) { try submitRead(i) }
        var copied: UInt64 = 0
        for i in 0..<groups.count {
            let slot = i % slots, r = reads[slot], g = groups[i]
            loop.run(until: { r.isComplete })
            if let failure = r.failure { throw failure }
            var used = 0
            for run in g.runs {
                let at = Int(run.host - g.start)
                let data = UnsafeRawBufferPointer(rebasing: buffers[slot][at..<(at + Int(run.length))])
                if let host = try directTarget(target, run),
                   UInt(bitPattern: data.baseAddress) % UInt(target.store.capabilities.alignment) == 0 {
                    if used == writes[slot].count { writes[slot].append(IORequest()) }
                    let w = writes[slot][used]
                    used += 1
                    w.operation = .write
                    w.buffer = UnsafeMutableRawPointer(mutating: data.baseAddress)
                    w.length = data.count
                    w.offset = host
                    target.store.submit(w)
                } else {
                    try target.write(data, at: VirtualOffset(run.virtual))
                }
                copied += run.length
            }
            if i + depth < groups.count { try submitRead(i + depth) }
            try progress(copied)
        }
        for slot in 0..<slots { try waitWrites(slot) }
        try target.flush()
    }

    /// Where `run` can be written in the target's store without any metadata change, or nil
    /// (the block must be allocated or bits set, or the store wants other alignment).
    static func directTarget(_ target: VHDImage, _ run: AllocatedRun) throws -> UInt64? {
        let a = UInt64(target.store.capabilities.alignment)
        guard run.virtual % a == 0, run.length % a == 0 else { return nil }
        let bb = target.blockBytes, block = Int(run.virtual / bb), inBlock = run.virtual % bb
        guard inBlock + run.length <= bb else { return nil }
        var state = target.blockSummary(block)
        if state == nil { state = try target.layerBlock(block) }
        let host: UInt64
        switch state! {
        case .absent: return nil
        case let .full(dataStart): host = dataStart.bytes + inBlock
        case let .partial(dataStart, bitmap):
            let s = Int(inBlock / VHDLimits.sectorBytes)
            guard bitmap.allSet(s..<(s + Int(run.length / VHDLimits.sectorBytes))) else { return nil }
            host = dataStart.bytes + inBlock
        }
        return host % a == 0 ? host : nil
    }
}
