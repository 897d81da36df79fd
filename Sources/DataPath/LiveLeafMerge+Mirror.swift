import ImageFormats
import StorageIO

/// One piece (within one block) of a guest write mirrored into the parent; reused.
final class MirrorWrite {
    let io = IORequest()
    unowned(unsafe) var request: ExportRequest?
    var virtual: UInt64 = 0
}

/// Mirroring: the parts of an admitted write that land in done blocks are written into the
/// parent too, at the same virtual offsets, asynchronously where the parent's block is
/// allocated (after the copy it is), through a synchronous allocation otherwise. Their bits
/// are set once the data is in place. A failed mirror write stops the merge but not the
/// guest's write, which the leaf holds.
extension LiveLeafMerge {
    /// Starts the mirror pieces of `r`, adding one to `r.pendingCount` for each; the export
    /// hears of each through `partDone`.
    func startMirror(_ r: ExportRequest, zeros: UnsafeMutableRawPointer) {
        guard r.cursor & WriteFlag.mirrored != 0 else { return }
        let blockBytes = interlock.blockBytes
        let pieceMax = r.command == .write ? blockBytes : UInt64(DataPathLimits.zeroBufferBytes)
        var at = r.offset
        let end = r.offset + UInt64(r.length)
        while at < end && isTracking {
            let block = Int(at / blockBytes)
            let pieceEnd = min(UInt64(block + 1) * blockBytes, end, at + pieceMax)
            if interlock.state(block) == .done {
                let data = r.command == .write ? r.buffer! + Int(at - r.offset) : zeros
                r.pendingCount += 1
                mirror(r, at: at, length: pieceEnd - at, data: data)
            }
            at = pieceEnd
        }
    }

    private func mirror(_ r: ExportRequest, at virtual: UInt64, length: UInt64, data: UnsafeMutableRawPointer) {
        if let host = target.writePlacement(at: VirtualOffset(virtual), length: length),
           isAligned(host.bytes, length, data) {
            submitMirror(r, at: virtual, host: host.bytes, length: length, data: data)
            return
        }
        gate.run { [unowned self] in
            guard self.isTracking else { return self.export.partDone(r, error: nil, direct: false) }
            do {
                let host = try self.target.allocateForWrite(at: VirtualOffset(virtual), length: length)
                if self.isAligned(host.bytes, length, data) {
                    return self.submitMirror(r, at: virtual, host: host.bytes, length: length, data: data)
                }
                try self.target.write(UnsafeRawBufferPointer(start: data, count: Int(length)), at: VirtualOffset(virtual))
            } catch {
                self.fail("a mirrored write into the parent failed: \(error)")
            }
            self.export.partDone(r, error: nil, direct: false)
        }
    }

    private func isAligned(_ host: UInt64, _ length: UInt64, _ data: UnsafeMutableRawPointer) -> Bool {
        let a = UInt64(target.store.capabilities.alignment)
        return host % a == 0 && length % a == 0 && UInt64(UInt(bitPattern: data)) % a == 0
    }

    private func submitMirror(_ r: ExportRequest, at virtual: UInt64, host: UInt64, length: UInt64,
                              data: UnsafeMutableRawPointer) {
        let m = spareMirrors.popLast() ?? makeMirror()
        m.request = r
        m.virtual = virtual
        m.io.operation = .write
        m.io.buffer = data
        m.io.length = Int(length)
        m.io.offset = host
        m.io.fua = false
        mirrorsInFlight += 1
        target.store.submit(m.io)
    }

    private func makeMirror() -> MirrorWrite {
        let m = MirrorWrite()
        allMirrors.append(m)  // owned here while in flight (the ring only retains `io`)
        m.io.onComplete = { [unowned self, unowned m] _ in self.mirrorDone(m) }
        return m
    }

    /// A mirror write finished: on success its bits are set (holding the gate) before the
    /// guest's request hears of it, so a later FLUSH covers them.
    private func mirrorDone(_ m: MirrorWrite) {
        mirrorsInFlight -= 1
        let r = m.request!
        if let failure = m.io.failure {
            fail("a mirrored write into the parent failed: \(failure)")
            return recycle(m, r, direct: true)
        }
        if !isTracking { return recycle(m, r, direct: true) }
        if gate.enter() {
            note(m)
            gate.leave()
            recycle(m, r, direct: true)
        } else {
            gate.later { [unowned self] in
                self.gate.run { self.note(m) }
                self.recycle(m, r, direct: false)
            }
        }
    }

    private func note(_ m: MirrorWrite) {
        guard isTracking else { return }
        do {
            try target.notePresent(at: VirtualOffset(m.virtual), length: UInt64(m.io.length))
        } catch {
            fail("recording a mirrored write in the parent failed: \(error)")
        }
    }

    private func recycle(_ m: MirrorWrite, _ r: ExportRequest, direct: Bool) {
        m.request = nil
        spareMirrors.append(m)
        export.partDone(r, error: nil, direct: direct)
    }
}
