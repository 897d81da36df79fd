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
/// `SRLimits.coalesceReadAheadCountMax` reads in flight while earlier ones are written, so a
/// coalesce streams through the source like a sequential read.
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
    /// `progress` gets the bytes copied so far as the copy advances; it may throw to stop.
    ///
    /// Reads and writes both stay in flight (`CopyPipeline`); the target's metadata (new
    /// blocks, bitmap bits, batmap) changes in memory only and reaches the disk in the one
    /// ordered flush at the end (data, then bitmaps, then BAT, batmap and footers).
    static func copy(_ runs: [AllocatedRun], from source: VHDImage, into target: VHDImage,
                     progress: (UInt64) throws -> Void) throws {
        let store = source.store
        let alignment = UInt64(max(store.capabilities.alignment, 4096))
        let readMax = min(UInt64(SRLimits.coalesceReadBytesMax),
                          UInt64(store.capabilities.transferBytesMax) / alignment * alignment)
        let groups = Self.groups(runs, alignment: alignment, fileSize: store.size, readMax: readMax)
        guard !groups.isEmpty else { return }
        let depth = SRLimits.coalesceReadAheadCountMax
        // A slot is busy from its read until its writes complete: twice the read depth keeps
        // reads going while earlier slots drain into the target.
        let pipeline = CopyPipeline(source: source, target: target, groups: groups, readBytesMax: readMax,
                                    alignment: alignment, readsInFlightMax: depth, slotCount: 2 * depth)
        try pipeline.run(progress: progress)
        try target.flush()
    }
}
