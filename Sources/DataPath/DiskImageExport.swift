import Glibc
import ImageFormats
import Logging
import NBD
import StorageIO

/// Exports a `DiskImage` (raw, VHD, an image chain) with reads on the data path: each READ is
/// resolved from the image's in-memory maps into host extents and zero runs, and the host
/// extents are read asynchronously on the layers' stores, in parallel. A read that is all
/// zeros becomes an NBD hole without any I/O. Block status comes from the same maps.
///
/// A write that lands entirely on data the top layer already holds (an overwrite) goes
/// straight to the top store asynchronously, for formats where that is sound (raw, VHD:
/// no metadata changes). A write to sectors the top VHD does not hold yet is a placed write
/// (`PlacedWriting`): its data goes out asynchronously too, to an allocated block (a new
/// block is allocated first, in memory, holding the gate), and its bitmap bits are set once
/// the data is written, before the reply; a flush then makes data, bitmaps and BAT durable
/// in that order. Flushes, zeroing and writes during a leaf-merge go through the image's
/// synchronous API: they run the loop nested until done, one at a time (`ImageCallGate`:
/// the image's metadata code is not re-entrant).
///
/// A chain [..., P, L] can be merged online, L into P, while it is served:
/// `startLeafMerge(parentPath:progress:)`, `leafMergeStatus` (`LiveLeafMerge`).
public final class DiskImageExport: ExportBackend {
    public let image: any DiskImage
    /// The image's layer stores, top first (taken once: asking the image makes an array).
    let stores: [any BlockIO]
    public let features: ExportFeatures
    public let loop: EventLoop
    /// Whether an overwrite of top-layer data may go straight to the top store.
    private let overwritesInPlace: Bool
    /// The image, when writes to sectors its top layer lacks may move asynchronously.
    let placed: (any PlacedWriting)?
    let zeros: UnsafeMutableRawPointer
    private let sectorBytes: UInt64 = 512
    let gate = ImageCallGate()
    /// Writes started and not completed (a merge waits for those that began before it).
    private var writesInFlight = 0
    var hasWritesInFlight: Bool { writesInFlight > 0 }
    private var merge: LiveLeafMerge?
    private let logger = Logger(label: "sm-tapdisk.export")

    enum Phase {
        static let reading = 1
        static let posted = 2
        static let writing = 3
    }

    public init(image: any DiskImage, readOnly: Bool = false) {
        precondition(!image.layerStores.isEmpty, "an image without a store")
        self.image = image
        let stores = image.layerStores
        self.stores = stores
        self.loop = stores[0].loop
        let alignment = max(Int(sectorBytes), stores.map { $0.capabilities.alignment }.max()!)
        let transfer = min(DataPathLimits.payloadBytesMax, stores.map { $0.capabilities.transferBytesMax }.min()!)
        features = ExportFeatures(isReadOnly: readOnly || image.isReadOnly, minimumBlock: alignment,
                                  transferBytesMax: transfer, canTrim: false, canWriteZeroes: true,
                                  canFastZero: true, canMultiConn: true)
        zeros = .allocate(byteCount: DataPathLimits.zeroBufferBytes, alignment: StorageLimits.bufferAlignment)
        zeros.initializeMemory(as: UInt8.self, repeating: 0, count: DataPathLimits.zeroBufferBytes)
        overwritesInPlace = image.rewritesDataInPlace
        placed = (image as? any PlacedWriting).flatMap { $0.acceptsPlacedWrites && !readOnly ? $0 : nil }
    }

    deinit { zeros.deallocate() }

    public var name: String { image.name }
    public var size: UInt64 { image.virtualSize }

    /// Ends a leaf-merge (a converged one becomes `complete`), then closes the image.
    public func close() throws {
        merge?.close()
        try image.close()
    }

    public func prepare(_ request: ExportRequest) {
        request.io.onComplete = { [unowned(unsafe) self, unowned(unsafe) request] _ in
            if request.phase == Phase.writing {
                self.finishWrite(request)
            } else {
                request.complete(error: request.firstError)
            }
        }
    }

    public func submit(_ r: ExportRequest) {
        switch r.command {
        case .read:
            startRead(r)
        case .write:
            submitWrite(r)
        case .flush:
            startFlush(r)
        case .writeZeroes:
            if !r.flags.contains(.noHole), readsAsZero(r.offset, r.length) {
                // Already zeros (a hole through the chain): nothing to write or allocate, and
                // a merged parent reads zeros there too (the leaf holds none of it).
                if r.fua { startFlush(r) } else { completeLater(r, error: nil, phaseDone: Phase.posted) }
                return
            }
            if r.flags.contains(.fastZero) {
                completeLater(r, error: .notSupported, phaseDone: Phase.posted)
                return
            }
            submitWrite(r)
        case .trim, .cache:
            completeLater(r, error: nil, phaseDone: Phase.posted)
        case .blockStatus:
            let error = perform {
                for e in try image.blockStatus(at: VirtualOffset(r.offset), length: UInt64(r.length)) {
                    switch e.state {
                    case .zero: r.extents.append((e.length, [.hole, .zero]))
                    case .data: r.extents.append((e.length, .data))
                    }
                }
            }
            completeLater(r, error: error, phaseDone: Phase.posted)
        case .disconnect:
            preconditionFailure("DISC is not a backend request")
        }
    }

    /// Whether the whole range resolves to zero runs (from the in-memory maps).
    private func readsAsZero(_ offset: UInt64, _ length: Int) -> Bool {
        guard let extents = try? image.resolve(at: VirtualOffset(offset), length: UInt64(length)) else { return false }
        return extents.allSatisfy { $0.source == .zero }
    }

    /// Runs a synchronous image call; its error, mapped for NBD.
    func perform(_ body: () throws -> Void) -> NBDError? {
        do {
            try body()
            return nil
        } catch {
            return NBDErrorMapping.nbdError(error)
        }
    }

    // MARK: Reads

    private func startRead(_ r: ExportRequest) {
        do {
            try image.resolve(at: VirtualOffset(r.offset), length: UInt64(r.length), into: &r.plan)
        } catch {
            completeLater(r, error: NBDErrorMapping.nbdError(error), phaseDone: Phase.posted)
            return
        }
        var hostCount = 0
        var aligned = true
        for e in r.plan {
            guard case let .host(layer, host) = e.source else { continue }
            hostCount += 1
            let mask = UInt64(stores[layer].capabilities.alignment - 1)
            if host.bytes & mask != 0 || e.length & mask != 0 || (e.virtualOffset.bytes - r.offset) & mask != 0 {
                aligned = false
            }
        }
        if hostCount == 0 {
            r.readIsHole = true
            completeLater(r, error: nil, phaseDone: Phase.posted)
            return
        }
        if !aligned {
            // The store needs stricter alignment than this extent has: let the image read it.
            let error = perform {
                try image.read(into: UnsafeMutableRawBufferPointer(start: r.buffer, count: r.length), at: VirtualOffset(r.offset))
            }
            completeLater(r, error: error, phaseDone: Phase.posted)
            return
        }
        while r.subrequests.count < hostCount { r.subrequests.append(makeSubrequest(for: r)) }
        r.phase = Phase.reading
        r.pendingCount = hostCount
        var next = 0
        for e in r.plan {
            let start = Int(e.virtualOffset.bytes - r.offset)
            switch e.source {
            case .zero:
                (r.buffer! + start).initializeMemory(as: UInt8.self, repeating: 0, count: Int(e.length))
            case let .host(layer, host):
                let io = r.subrequests[next]
                next += 1
                io.operation = .read
                io.buffer = r.buffer! + start
                io.length = Int(e.length)
                io.offset = host.bytes
                io.fua = false
                io.tag = SubrequestTag.plain
                stores[layer].submit(io)
            }
        }
    }

    // MARK: Writes

    private func submitWrite(_ r: ExportRequest) {
        guard r.length > 0 else {
            completeLater(r, error: nil, phaseDone: Phase.posted)
            return
        }
        if let merge, !merge.admit(r) { return }  // it waits; the merge starts it later
        startWrite(r)
    }

    /// Starts an admitted WRITE or WRITE_ZEROES: the leaf's part (an asynchronous overwrite,
    /// else a synchronous image write) and, during a merge, the parent's pieces. One count
    /// in `pendingCount` is held while the parts are issued.
    func startWrite(_ r: ExportRequest) {
        writesInFlight += 1
        r.phase = Phase.writing
        r.pendingCount = 1
        r.firstError = nil
        r.flushAfterSubrequests = false
        if let merge, r.cursor & LiveLeafMerge.WriteFlag.mirrored != 0 {
            merge.startMirror(r, zeros: zeros)
            // FUA covers the parent's bits too: flush both images once every part is done.
            if r.fua { r.flushAfterSubrequests = true }
        }
        if r.command == .write && overwritesInPlace && startOverwrite(r) {
            // Issued: the subrequests report through partDone.
        } else if r.command == .write && merge == nil, let placed, startPlacedWrite(r, placed) {
            // Issued (or allocating under the gate); the pieces note themselves present.
        } else {
            r.pendingCount += 1
            gate.run { [unowned self] in self.writeThroughImage(r) }
        }
        partDone(r, error: nil, direct: false)
    }

    /// The leaf's part of a write through the image's synchronous API (holding the gate).
    func writeThroughImage(_ r: ExportRequest) {
        let error = perform {
            if r.command == .write {
                try image.write(UnsafeRawBufferPointer(start: r.buffer, count: r.length), at: VirtualOffset(r.offset))
            } else {
                var at = r.offset
                let end = r.offset + UInt64(r.length)
                while at < end {
                    let n = Int(min(UInt64(DataPathLimits.zeroBufferBytes), end - at))
                    try image.write(UnsafeRawBufferPointer(start: zeros, count: n), at: VirtualOffset(at))
                    at += UInt64(n)
                }
            }
            if r.fua && !r.flushAfterSubrequests { try image.flush() }
        }
        partDone(r, error: error, direct: false)
    }

    /// One part of write `r` finished. The last one completes it: at once from an I/O
    /// completion (`direct`), else on the next turn (never inside a `submit`).
    func partDone(_ r: ExportRequest, error: NBDError?, direct: Bool) {
        if let error {
            if r.firstError == nil { r.firstError = error }
            merge?.fail("a write to the leaf failed (\(error)); the parent may differ from it there")
        }
        r.pendingCount -= 1
        guard r.pendingCount == 0 else { return }
        if direct { finishWrite(r) } else { loop.post(r.io, result: 0, failure: nil) }
    }

    /// Every part of `r` is done: flush for FUA if still owed, then complete.
    private func finishWrite(_ r: ExportRequest) {
        if r.flushAfterSubrequests && r.firstError == nil {
            r.flushAfterSubrequests = false
            gate.run { [unowned self] in
                r.firstError = self.flushImages()
                self.loop.post(r.io, result: 0, failure: nil)
            }
            return
        }
        writesInFlight -= 1
        merge?.release(r)
        r.complete(error: r.firstError)
    }

    /// Writes `r` straight to the top store when every byte of it is top-layer data;
    /// false (nothing started) otherwise.
    private func startOverwrite(_ r: ExportRequest) -> Bool {
        guard (try? image.resolve(at: VirtualOffset(r.offset), length: UInt64(r.length), into: &r.plan)) != nil,
              !r.plan.isEmpty else { return false }
        let extents = r.plan
        let store = stores[0]
        let mask = UInt64(store.capabilities.alignment - 1)
        for e in extents {
            guard case let .host(layer, host) = e.source, layer == 0,
                  host.bytes & mask == 0, e.length & mask == 0, (e.virtualOffset.bytes - r.offset) & mask == 0 else {
                return false
            }
        }
        while r.subrequests.count < extents.count { r.subrequests.append(makeSubrequest(for: r)) }
        r.pendingCount += extents.count
        // FUA without store support: the image's flush after the data (rare; sync).
        if r.fua && !store.capabilities.canFUA { r.flushAfterSubrequests = true }
        for (i, e) in extents.enumerated() {
            guard case let .host(_, host) = e.source else { continue }
            let io = r.subrequests[i]
            io.operation = .write
            io.buffer = r.buffer! + Int(e.virtualOffset.bytes - r.offset)
            io.length = Int(e.length)
            io.offset = host.bytes
            io.fua = r.fua && store.capabilities.canFUA && !r.flushAfterSubrequests
            io.tag = SubrequestTag.plain
            store.submit(io)
        }
        return true
    }

    func makeSubrequest(for r: ExportRequest) -> IORequest {
        let io = IORequest()
        io.onComplete = { [unowned(unsafe) self, unowned(unsafe) r] io in
            let error = io.failure.map { NBDErrorMapping.nbdError($0) }
            if r.phase == Phase.writing {
                if io.tag == SubrequestTag.placed && error == nil {
                    self.notePlaced(r, io)
                } else {
                    self.partDone(r, error: error, direct: true)
                }
                return
            }
            if let error, r.firstError == nil { r.firstError = error }
            r.pendingCount -= 1
            if r.pendingCount == 0 { r.complete(error: r.firstError) }
        }
        return io
    }

    // MARK: Flush

    /// FLUSH (or FUA on a write that changed nothing): the leaf, and a merging parent.
    private func startFlush(_ r: ExportRequest) {
        gate.run { [unowned self] in
            self.completeLater(r, error: self.flushImages(), phaseDone: Phase.posted)
        }
    }

    /// Flushes the image and, while a merge mirrors into it, the parent (holding the gate).
    /// A parent that fails to flush stops the merge; the guest's data is in the leaf.
    private func flushImages() -> NBDError? {
        let error = perform { try image.flush() }
        if let merge, merge.isTracking {
            do { try merge.target.flush() } catch { merge.fail("flushing the parent failed: \(error)") }
        }
        return error
    }

    func logFailure(_ reason: String) {
        logger.warning("\(image.name): leaf-merge stopped: \(reason)")
    }

    // MARK: Leaf-merge

    /// Where the current (or last) leaf-merge stands; nil when none was started.
    public var leafMergeStatus: LeafMergeStatus? { merge?.status }

    /// Starts merging the leaf into its parent while serving: opens `parentPath` (a file, or
    /// an `nfs://` URL) writable (O_DIRECT unless `direct` is false) and returns at once; the merge runs on this loop.
    /// `progress` is called on the loop thread at each phase change and after each block.
    /// Call on the loop thread.
    public func startLeafMerge(parentPath: String, direct: Bool = true,
                               progress: ((LeafMergeStatus) -> Void)? = nil) throws {
        try checkMergeable()
        let store: any BlockIO
        do {
            store = try ExportFormat.openStore(parentPath, readOnly: false, on: loop, direct: direct)
        } catch let e as BlockIOError {
            if case .open(_, EACCES, _) = e { throw LeafMergeError.parentReadOnly(path: parentPath) }
            throw e
        }
        try startLeafMerge(parent: store, progress: progress)
    }

    /// Starts merging into the parent opened on `store` (a second, writable store on the
    /// parent's file); the merge owns the store from here, even when this throws.
    public func startLeafMerge(parent store: any BlockIO, progress: ((LeafMergeStatus) -> Void)? = nil) throws {
        let (leaf, parent): (VHDImage, VHDImage)
        do {
            (leaf, parent) = try checkMergeable()
        } catch {
            store.close()
            throw error
        }
        let target: VHDImage
        do { target = try VHDImage.open(store) } catch { store.close(); throw error }
        do {
            guard !target.isReadOnly else { throw LeafMergeError.parentReadOnly(path: store.name) }
            guard target.footer.uuid == parent.footer.uuid else {
                throw LeafMergeError.parentMismatch(path: store.name, expected: parent.footer.uuid.description,
                                                    found: target.footer.uuid.description)
            }
            guard target.virtualSize == leaf.virtualSize else {
                throw LeafMergeError.sizeMismatch(path: store.name, leafBytes: leaf.virtualSize, parentBytes: target.virtualSize)
            }
        } catch {
            store.close()
            throw error
        }
        let merge = LiveLeafMerge(export: self, leaf: leaf, target: target, parentPath: store.name,
                                  writesInFlight: writesInFlight, progress: progress)
        self.merge = merge
        logger.info("\(image.name): leaf-merge into \(store.name) started")
        merge.start()
    }

    /// Stops a running leaf-merge (it becomes `failed` with `reason`); the leaf stays authoritative.
    public func abortLeafMerge(reason: String = "aborted") {
        merge?.fail(reason)
    }

    /// The leaf and its parent when this export can merge them now.
    @discardableResult
    private func checkMergeable() throws -> (VHDImage, VHDImage) {
        if let merge, merge.isTracking {
            throw LeafMergeError.alreadyRunning(image: image.name, phase: merge.status.phase)
        }
        guard let chain = image as? ImageChain, chain.depth >= 2 else {
            throw LeafMergeError.notALeafOverParent(image: image.name, detail: "not a chain of two or more images")
        }
        guard let leaf = chain.layers[0] as? VHDImage, let parent = chain.layers[1] as? VHDImage else {
            throw LeafMergeError.notALeafOverParent(image: image.name, detail: "the leaf and its parent must both be VHD")
        }
        guard !features.isReadOnly, !leaf.isReadOnly else {
            throw LeafMergeError.notALeafOverParent(image: image.name, detail: "the export is read-only")
        }
        return (leaf, parent)
    }
}
