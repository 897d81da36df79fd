import StorageIO

extension SimulatedDisk {
    /// Cuts the power: decides with the seed what each pending write left on the media, and
    /// closes the disk for good.
    ///
    /// Writes in flight are resolved the same way as pending ones (they may or may not have
    /// reached the media) and never complete; do not wait on them synchronously afterwards.
    /// Each sector ends as its durable bytes or as some write's version of it — never bytes
    /// from elsewhere. `torn` (default: the configuration's `tornWrites`) allows a per-sector
    /// mix within one write. `restart()` then gives the disk as it comes back.
    public func crash(torn: Bool? = nil) {
        precondition(!isCrashed, "crash() on a disk that already crashed")
        let tearing = torn ?? configuration.tornWrites
        note("crash torn=\(tearing) pending=\(layers.cache.writes.count) in-flight=\(inFlight.count)")
        // Writes still in flight join the cache behind the completed ones, in submission order,
        // as if they completed just now: whether they did is the crash's to decide.
        var stranded: Set<UInt64> = []
        for entry in inFlight where entry.fault == nil {
            let request = entry.request
            guard request.operation == .write || request.operation == .discard else { continue }
            let data = request.operation == .write ? UnsafeRawPointer(request.buffer) : nil
            layers.complete(requestID: entry.id, operation: request.operation.description, data: data,
                            offset: request.offset, length: request.length, durable: false)
            stranded.insert(entry.id)
        }
        inFlight.removeAll()
        crashRecords = layers.resolveCrash(torn: tearing, inFlight: stranded, random: &random)
        for record in crashRecords { note(record.description) }
        markCrashed()
    }

    /// The disk after the reboot that follows `crash()`: the surviving media, the same shape,
    /// the seed's stream continued where this disk left it, and the trace carried on.
    public func restart(faults: FaultPlan = .none, loop newLoop: EventLoop? = nil) -> SimulatedDisk {
        precondition(isCrashed, "restart() before crash()")
        var shape = configuration
        shape.size = size
        var trace = log
        trace.record("restart generation=\(generation + 1)")
        let media = SectorLayers(sectorSize: configuration.sectorSize, size: size, durable: layers.durable)
        return SimulatedDisk(configuration: shape, seed: seed, loop: newLoop ?? loop, faults: faults,
                             layers: media, random: random, trace: trace, generation: generation + 1,
                             firstRequestID: nextRequestID)
    }

    /// What a read of `count` bytes at `offset` would return now, without the loop (for
    /// test assertions; not bounds-checked beyond a precondition).
    public func contents(at offset: UInt64, count: Int) -> [UInt8] {
        precondition(offset + UInt64(count) <= size, "contents(at:count:) past the end")
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { layers.read(into: buffer.baseAddress!, offset: offset, length: count) }
            initialized = count
        }
    }

    /// What the media alone holds at `offset` (what would survive if no cached write did).
    public func durableContents(at offset: UInt64, count: Int) -> [UInt8] {
        precondition(offset + UInt64(count) <= size, "durableContents(at:count:) past the end")
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { layers.readDurable(into: buffer.baseAddress!, offset: offset, length: count) }
            initialized = count
        }
    }
}
