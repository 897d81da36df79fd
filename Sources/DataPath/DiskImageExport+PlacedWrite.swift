import ImageFormats
import NBD
import StorageIO

/// What a write subrequest's completion must do besides counting down (`IORequest.tag`).
enum SubrequestTag {
    static let plain = 0
    /// A placed write's data: note the range present before the write may complete.
    static let placed = 1
}

/// Writes to sectors the top layer does not hold yet, moved asynchronously: one piece per
/// image block, each written at its placement and noted present once its data is in.
/// Only allocating a new block needs the gate (it changes metadata and may do I/O); a
/// write into an allocated block's absent sectors needs no synchronous call at all until
/// its data completes.
extension DiskImageExport {
    /// Starts `r` as placed writes; false (nothing started) when its range or placements are
    /// not aligned for the top store, so the synchronous path takes it.
    func startPlacedWrite(_ r: ExportRequest, _ placed: any PlacedWriting) -> Bool {
        let store = stores[0]
        let mask = UInt64(store.capabilities.alignment - 1)
        guard r.offset & mask == 0, UInt64(r.length) & mask == 0 else { return false }
        var allocating = false
        for i in 0..<pieceCount(r, placed) {
            let (virtual, length) = piece(r, i, placed)
            if let host = placed.writePlacement(at: virtual, length: length) {
                if host.bytes & mask != 0 { return false }
            } else {
                allocating = true
            }
        }
        // Placed writes are durable only with their bits: FUA becomes a flush afterwards.
        if r.fua { r.flushAfterSubrequests = true }
        guard allocating else {
            issuePlaced(r, placed)
            return true
        }
        r.pendingCount += 1
        gate.run { [unowned self] in
            var error: NBDError?
            do {
                var aligned = true
                for i in 0..<self.pieceCount(r, placed) {
                    let (virtual, length) = self.piece(r, i, placed)
                    aligned = try placed.allocateForWrite(at: virtual, length: length).bytes & mask == 0 && aligned
                }
                if aligned {
                    self.issuePlaced(r, placed)
                } else {
                    // A block placed off the store's alignment (an image from elsewhere):
                    // it is allocated now, so the image's own write can take it.
                    r.pendingCount += 1
                    self.writeThroughImage(r)
                }
            } catch let e {
                error = NBDErrorMapping.nbdError(e)
            }
            self.partDone(r, error: error, direct: false)
        }
        return true
    }

    /// Issues the data of every piece at its (existing) placement.
    private func issuePlaced(_ r: ExportRequest, _ placed: any PlacedWriting) {
        let count = pieceCount(r, placed)
        while r.subrequests.count < count { r.subrequests.append(makeSubrequest(for: r)) }
        r.pendingCount += count
        let store = stores[0]
        for i in 0..<count {
            let (virtual, length) = piece(r, i, placed)
            let io = r.subrequests[i]
            io.operation = .write
            io.buffer = r.buffer! + Int(virtual.bytes - r.offset)
            io.length = Int(length)
            io.offset = placed.writePlacement(at: virtual, length: length)!.bytes
            io.fua = false
            io.tag = SubrequestTag.placed
            store.submit(io)
        }
    }

    /// A piece's data is written: set its bits (holding the gate; after the call holding it
    /// now, if any), then count the piece done.
    func notePlaced(_ r: ExportRequest, _ io: IORequest) {
        let virtual = VirtualOffset(r.offset + UInt64(io.buffer! - r.buffer!)), length = UInt64(io.length)
        guard gate.enter() else {
            // Inside a synchronous call's nested turn (a flush clearing its dirty sets): later.
            gate.later { [unowned self] in
                self.gate.run { self.notePresentHoldingGate(r, virtual, length) }
            }
            return
        }
        notePresentHoldingGate(r, virtual, length)
        gate.leave()
    }

    private func notePresentHoldingGate(_ r: ExportRequest, _ virtual: VirtualOffset, _ length: UInt64) {
        let placed = self.placed!
        let error = perform { try placed.notePresent(at: virtual, length: length) }
        partDone(r, error: error, direct: true)
    }

    private func pieceCount(_ r: ExportRequest, _ placed: any PlacedWriting) -> Int {
        let block = placed.placementBlockBytes
        return Int((r.offset + UInt64(r.length) - 1) / block - r.offset / block) + 1
    }

    /// The `i`-th block-bounded piece of `r`.
    private func piece(_ r: ExportRequest, _ i: Int, _ placed: any PlacedWriting) -> (VirtualOffset, UInt64) {
        let block = placed.placementBlockBytes
        let start = i == 0 ? r.offset : (r.offset / block + UInt64(i)) * block
        let end = min(r.offset + UInt64(r.length), (start / block + 1) * block)
        return (VirtualOffset(start), end - start)
    }
}
