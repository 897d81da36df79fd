import ImageFormats
import StorageIO

/// One block being copied from the leaf into the parent: its buffer and its I/O.
final class MergeChunk {
    enum Stage {
        case idle
        /// Claimed; waiting for the writes in flight on the block.
        case draining
        case reading
        case writing
        /// Between I/O phases, in (or waiting for) a synchronous metadata step.
        case placing
    }

    let buffer: UnsafeMutableRawPointer
    let bufferBytes: Int
    var stage = Stage.idle
    var block = -1
    /// The leaf's file offset that `buffer` starts at.
    var base: UInt64 = 0
    /// The leaf's runs in this block: (virtual offset, leaf file offset, length).
    var runs: [(virtual: UInt64, host: UInt64, length: UInt64)] = []
    /// Which runs went to the parent asynchronously (their bits are set after the writes).
    var placedAsync: [Bool] = []
    var requests: [IORequest] = []
    var used = 0
    var pending = 0
    var failure: BlockIOError?

    init(bufferBytes: Int) {
        self.bufferBytes = bufferBytes
        buffer = .allocate(byteCount: bufferBytes, alignment: LeafMergeLimits.alignmentBytesMax)
    }

    func release() { buffer.deallocate() }

    /// Data of run `i` in the buffer.
    func data(_ i: Int) -> UnsafeMutableRawPointer { buffer + Int(runs[i].host - base) }

    func reset(stage: Stage) {
        self.stage = stage
        used = 0
        pending = 0
        failure = nil
    }
}

/// The copier: claims the blocks the leaf held, in order, a few at a time, and for each
/// reads the leaf's allocated runs (neighbours merged into one read) and writes them into
/// the parent at the same virtual offsets. Metadata steps (finding the runs, placing them
/// in the parent, setting its bits) hold the export's image-call gate; the data moves
/// asynchronously.
extension LiveLeafMerge {
    /// Claims pending blocks while a chunk is free; converges when none is left.
    func pump() {
        if isPumping { pumpAgain = true; return }
        isPumping = true
        defer { isPumping = false }
        repeat {
            pumpAgain = false
            while status.phase == .copying, chunks.count(where: { $0.stage != .idle }) < chunkLimit,
                  let chunk = chunks.first(where: { $0.stage == .idle }) {
                while nextBlock < interlock.blockCount && interlock.state(nextBlock) != .pending { nextBlock += 1 }
                guard nextBlock < interlock.blockCount else { break }
                chunk.block = nextBlock
                nextBlock += 1
                if interlock.claim(chunk.block) {
                    startChunk(chunk)
                } else {
                    chunk.reset(stage: .draining)
                }
            }
        } while pumpAgain
        if status.phase == .copying && nextBlock >= interlock.blockCount && chunksIdle { converge() }
    }

    /// Fewer blocks at once while the guest writes, so its I/O does not queue behind ours.
    private var chunkLimit: Int {
        export.hasWritesInFlight ? LeafMergeLimits.chunksInFlightUnderLoad : LeafMergeLimits.chunksInFlight
    }

    /// Starts the chunks whose block has no write in flight any more.
    func startDrainedChunks() {
        for chunk in chunks where chunk.stage == .draining && interlock.writesInFlight(chunk.block) == 0 {
            startChunk(chunk)
        }
    }

    private func startChunk(_ chunk: MergeChunk) {
        chunk.reset(stage: .placing)
        gate.run { [unowned self] in self.readRuns(chunk) }
    }

    /// Finds the leaf's runs in the block (its bitmap may be read) and reads them.
    private func readRuns(_ chunk: MergeChunk) {
        guard isTracking else { return idle(chunk) }
        let blockBytes = interlock.blockBytes, start = UInt64(chunk.block) * blockBytes
        let store = leaf.store
        chunk.runs.removeAll(keepingCapacity: true)
        do {
            for e in try leaf.resolve(at: VirtualOffset(start), length: min(blockBytes, virtualSize - start)) {
                if case let .host(_, host) = e.source { chunk.runs.append((e.virtualOffset.bytes, host.bytes, e.length)) }
            }
        } catch {
            fail("reading the leaf's bitmap of block \(chunk.block) failed: \(error)")
            return idle(chunk)
        }
        guard let first = chunk.runs.first else { return finishChunk(chunk) }
        let a = UInt64(store.capabilities.alignment)
        chunk.base = first.host / a * a
        let last = chunk.runs[chunk.runs.count - 1]
        let spanEnd = (last.host + last.length + a - 1) / a * a
        guard a <= UInt64(LeafMergeLimits.alignmentBytesMax), spanEnd - chunk.base <= UInt64(chunk.bufferBytes),
              spanEnd <= store.size else {
            return readRunsInPlace(chunk)
        }
        chunk.stage = .reading
        chunk.pending = 1  // held while reads are issued
        var groupStart = chunk.base, groupEnd = chunk.base
        for run in chunk.runs {
            let runStart = run.host / a * a, runEnd = (run.host + run.length + a - 1) / a * a
            if groupEnd > groupStart && runStart > groupEnd + LeafMergeLimits.readGapBytesMax {
                submit(chunk, .read, store: store, from: chunk.buffer + Int(groupStart - chunk.base),
                       length: groupEnd - groupStart, at: groupStart)
                groupStart = runStart
            }
            if groupEnd == groupStart { groupStart = runStart }
            groupEnd = max(groupEnd, runEnd)
        }
        submit(chunk, .read, store: store, from: chunk.buffer + Int(groupStart - chunk.base),
               length: groupEnd - groupStart, at: groupStart)
        chunkIODone(chunk, nil)
    }

    /// The leaf's store wants an alignment the buffer cannot give: read run by run through
    /// the image (synchronous, bounced), then place.
    private func readRunsInPlace(_ chunk: MergeChunk) {
        chunk.base = chunk.runs[0].host
        guard chunk.runs[chunk.runs.count - 1].host + chunk.runs[chunk.runs.count - 1].length - chunk.base
                <= UInt64(chunk.bufferBytes) else {
            fail("block \(chunk.block) of the leaf spans more than a block in its file")
            return idle(chunk)
        }
        do {
            for (i, run) in chunk.runs.enumerated() {
                try leaf.read(into: UnsafeMutableRawBufferPointer(start: chunk.data(i), count: Int(run.length)),
                              at: VirtualOffset(run.virtual))
            }
        } catch {
            fail("reading block \(chunk.block) of the leaf failed: \(error)")
            return idle(chunk)
        }
        placeRuns(chunk)
    }

    /// Places each run in the parent (allocating its block there) and writes it.
    private func placeRuns(_ chunk: MergeChunk) {
        guard isTracking else { return idle(chunk) }
        chunk.reset(stage: .writing)
        chunk.pending = 1
        chunk.placedAsync.removeAll(keepingCapacity: true)
        let a = UInt64(target.store.capabilities.alignment)
        do {
            for (i, run) in chunk.runs.enumerated() {
                let data = chunk.data(i)
                let host = try target.allocateForWrite(at: VirtualOffset(run.virtual), length: run.length)
                let aligned = host.bytes % a == 0 && run.length % a == 0 && UInt64(UInt(bitPattern: data)) % a == 0
                chunk.placedAsync.append(aligned)
                if aligned {
                    submit(chunk, .write, store: target.store, from: data, length: run.length, at: host.bytes)
                } else {
                    try target.write(UnsafeRawBufferPointer(start: data, count: Int(run.length)), at: VirtualOffset(run.virtual))
                }
            }
        } catch {
            fail("writing block \(chunk.block) into the parent failed: \(error)")
        }
        chunkIODone(chunk, nil)
    }

    /// Sets the parent's bits for the runs written asynchronously; the block is done.
    private func noteRuns(_ chunk: MergeChunk) {
        guard isTracking else { return idle(chunk) }
        do {
            for (i, run) in chunk.runs.enumerated() where chunk.placedAsync[i] {
                try target.notePresent(at: VirtualOffset(run.virtual), length: run.length)
            }
        } catch {
            fail("recording block \(chunk.block) in the parent failed: \(error)")
            return idle(chunk)
        }
        finishChunk(chunk)
    }

    private func finishChunk(_ chunk: MergeChunk) {
        interlock.finish(chunk.block)
        status.blocksCopied += 1
        status.bytesCopied += chunk.runs.reduce(0) { $0 + $1.length }
        chunk.reset(stage: .idle)
        report()
        retryWaiters()
        pump()
    }

    private func idle(_ chunk: MergeChunk) {
        chunk.reset(stage: .idle)
    }

    private func submit(_ chunk: MergeChunk, _ operation: IOOperation, store: any BlockIO,
                        from buffer: UnsafeMutableRawPointer, length: UInt64, at offset: UInt64) {
        if chunk.used == chunk.requests.count {
            let io = IORequest()
            io.onComplete = { [unowned self, unowned chunk] io in self.chunkIODone(chunk, io.failure) }
            chunk.requests.append(io)
        }
        let io = chunk.requests[chunk.used]
        chunk.used += 1
        chunk.pending += 1
        io.operation = operation
        io.buffer = buffer
        io.length = Int(length)
        io.offset = offset
        io.fua = false
        store.submit(io)
    }

    /// One read or write of the chunk finished (or its issuing hold was dropped).
    private func chunkIODone(_ chunk: MergeChunk, _ failure: BlockIOError?) {
        if let failure, chunk.failure == nil { chunk.failure = failure }
        chunk.pending -= 1
        guard chunk.pending == 0 else { return }
        let stage = chunk.stage
        chunk.used = 0
        if let failure = chunk.failure {
            fail("\(stage == .reading ? "reading the leaf" : "writing the parent") at block \(chunk.block) failed: \(failure)")
            return idle(chunk)
        }
        guard isTracking else { return idle(chunk) }
        chunk.stage = .placing
        switch stage {
        case .reading: gate.run { [unowned self] in self.placeRuns(chunk) }
        case .writing:
            // Placing holds the gate already when nothing went asynchronously.
            if gate.isHeld && chunk.placedAsync.allSatisfy({ !$0 }) { noteRuns(chunk) } else {
                gate.run { [unowned self] in self.noteRuns(chunk) }
            }
        default: preconditionFailure("chunk I/O completed in stage \(stage)")
        }
    }
}
