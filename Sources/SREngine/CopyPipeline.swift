import ImageFormats
import StorageIO

/// The asynchronous engine behind `AllocatedCopy.copy`: reads of the source and writes into
/// the target both stay in flight on the stores' event loop, like `fio` copying one file to
/// another, instead of one synchronous chunk at a time.
///
/// Each slot holds one read group's buffer and goes free → reading → writing → free. When a
/// read completes, its runs are placed in the target (`writePlacement`, else
/// `allocateForWrite`: metadata in memory only, durable at the final flush) and written
/// asynchronously; once every write of the slot has completed, the ranges are noted present
/// (bitmap bits in memory) and the slot reads the next group. So the VHD ordering holds
/// unchanged: no bit is set before its data is in the file, and bitmaps, then BAT, batmap
/// and footers reach the disk only in `flush()`, after the data, in one batch per copy.
/// Runs the store cannot take directly (unaligned, in images other tools wrote) go through
/// `VHDImage.write`, which bounces them synchronously.
final class CopyPipeline {
    /// One read buffer and the writes that drain it.
    final class Slot {
        let buffer: UnsafeMutableRawBufferPointer
        let read = IORequest()
        var writes: [IORequest] = []
        /// Target ranges written from this buffer, noted present once all writes completed.
        var placed: [(offset: VirtualOffset, length: UInt64)] = []
        var group = -1
        var writesPending = 0
        var bytes: UInt64 = 0

        init(bytes: Int, alignment: Int) {
            buffer = .allocate(byteCount: bytes, alignment: alignment)
        }
    }

    let source: VHDImage
    let target: VHDImage
    let groups: [AllocatedCopy.ReadGroup]
    let loop: EventLoop
    let readsInFlightMax: Int
    private var slots: [Slot] = []
    private var free: [Slot] = []
    /// Slots whose read completed (to place and write), and whose writes all completed.
    private var readDone: [Slot] = []
    private var writesDone: [Slot] = []
    private var failure: (any Error)?
    private var nextGroup = 0
    private var readsInFlight = 0

    init(source: VHDImage, target: VHDImage, groups: [AllocatedCopy.ReadGroup], readBytesMax: UInt64,
         alignment: UInt64, readsInFlightMax: Int, slotCount: Int) {
        self.source = source
        self.target = target
        self.groups = groups
        self.loop = source.store.loop
        self.readsInFlightMax = readsInFlightMax
        for _ in 0..<slotCount {
            let slot = Slot(bytes: Int(readBytesMax), alignment: Int(alignment))
            // Weak: a store that died may still deliver a refusal after `run` gave up on it.
            slot.read.onComplete = { [weak self, weak slot] r in
                guard let self, let slot else { return }
                readsInFlight -= 1
                if let f = r.failure { failure = failure ?? f } else { readDone.append(slot) }
            }
            slots.append(slot)
        }
        free = slots.reversed()
    }

    /// `run` returns only when nothing is in flight, so the buffers can go.
    deinit { slots.forEach { $0.buffer.deallocate() } }

    /// Nothing in flight that can still complete: a store that dies (closed, a simulated
    /// power loss) strands its requests, and waiting for them would never end.
    private var isIdle: Bool {
        (source.store.isClosed || slots.allSatisfy(\.read.isComplete))
            && (target.store.isClosed || slots.allSatisfy { $0.writesPending == 0 })
    }
    private var storesClosed: Bool { source.store.isClosed || target.store.isClosed }

    /// Copies every group; `progress` gets the bytes copied so far as slots drain, and may
    /// throw to stop. Leaves the target's metadata unflushed (the caller flushes).
    func run(progress: (UInt64) throws -> Void) throws {
        var copied: UInt64 = 0, finished = 0
        defer { loop.run(until: { self.isIdle }) }  // no buffer freed under an in-flight request
        submitReads()
        while finished < groups.count {
            loop.run(until: { self.failure != nil || !self.readDone.isEmpty || !self.writesDone.isEmpty || self.storesClosed })
            if let failure { throw failure }
            if storesClosed { throw BlockIOError.closed(store: target.store.name, operation: .write) }
            let drained = writesDone
            writesDone.removeAll(keepingCapacity: true)
            for slot in drained {
                for p in slot.placed { try target.notePresent(at: p.offset, length: p.length) }
                copied += slot.bytes
                finished += 1
                free.append(slot)
            }
            let arrived = readDone
            readDone.removeAll(keepingCapacity: true)
            for slot in arrived { try writeOut(slot) }
            submitReads()
            if !drained.isEmpty { try progress(copied) }
        }
    }

    private func submitReads() {
        while readsInFlight < readsInFlightMax, nextGroup < groups.count, let slot = free.popLast() {
            let g = groups[nextGroup], r = slot.read
            slot.group = nextGroup
            nextGroup += 1
            r.operation = .read
            r.buffer = slot.buffer.baseAddress
            r.length = Int(g.end - g.start)
            r.offset = g.start
            readsInFlight += 1
            source.store.submit(r)
        }
    }

    /// Places the slot's runs in the target and submits their writes.
    private func writeOut(_ slot: Slot) throws {
        let g = groups[slot.group]
        slot.placed.removeAll(keepingCapacity: true)
        slot.bytes = 0
        // Held until every piece is submitted: the synchronous I/O below (allocation, a
        // bounced write) runs the loop, and the slot's first writes may complete meanwhile;
        // the slot must not count as drained (bits noted, buffer reused) before its last.
        slot.writesPending += 1
        defer { finishWrite(slot) }
        var used = 0
        for run in g.runs {
            var done: UInt64 = 0
            while done < run.length {  // one piece per target block
                let virtual = run.virtual + done
                let n = min(run.length - done, target.blockBytes - virtual % target.blockBytes)
                let at = Int(run.host + done - g.start)
                let data = UnsafeRawBufferPointer(rebasing: slot.buffer[at..<(at + Int(n))])
                let offset = VirtualOffset(virtual)
                if isDirect(virtual, n, data), case let host = try target.writePlacement(at: offset, length: n)
                    ?? target.allocateForWrite(at: offset, length: n), isAligned(host.bytes) {
                    if used == slot.writes.count { slot.writes.append(makeWrite(slot)) }
                    let w = slot.writes[used]
                    used += 1
                    w.operation = .write
                    w.buffer = UnsafeMutableRawPointer(mutating: data.baseAddress)
                    w.length = Int(n)
                    w.offset = host.bytes
                    slot.placed.append((offset, n))
                    slot.writesPending += 1
                    target.store.submit(w)
                } else {
                    try target.write(data, at: offset)
                }
                done += n
            }
            slot.bytes += run.length
        }
    }

    private func finishWrite(_ slot: Slot) {
        slot.writesPending -= 1
        if slot.writesPending == 0 && failure == nil { writesDone.append(slot) }
    }

    /// Whether a piece can go straight to the target's store: whole alignment units, from an
    /// aligned address (its host offset is checked once placed).
    private func isDirect(_ virtual: UInt64, _ length: UInt64, _ data: UnsafeRawBufferPointer) -> Bool {
        isAligned(virtual) && isAligned(length) && isAligned(UInt64(UInt(bitPattern: data.baseAddress)))
    }

    private func isAligned(_ value: UInt64) -> Bool { value % UInt64(target.store.capabilities.alignment) == 0 }

    private func makeWrite(_ slot: Slot) -> IORequest {
        let w = IORequest()
        w.onComplete = { [weak self, weak slot] r in
            guard let self, let slot else { return }
            if let f = r.failure { failure = failure ?? f }
            finishWrite(slot)
        }
        return w
    }
}
