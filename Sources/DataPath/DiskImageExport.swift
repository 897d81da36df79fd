import ImageFormats
import NBD
import StorageIO

/// Exports a `DiskImage` (raw, VHD, an image chain) with reads on the data path: each READ is
/// resolved from the image's in-memory maps into host extents and zero runs, and the host
/// extents are read asynchronously on the layers' stores, in parallel. A read that is all
/// zeros becomes an NBD hole without any I/O. Block status comes from the same maps.
///
/// A write that lands entirely on data the top layer already holds (an overwrite) goes
/// straight to the top store asynchronously, for formats where that is sound (raw, VHD:
/// no metadata changes). Other writes (allocating ones), flushes and zeroing go through the
/// image's synchronous API: they run the loop nested until done, so they are correct but
/// hold the loop while they run. An asynchronous write path in ImageFormats removes that;
/// the NBD side needs no change for it.
public final class DiskImageExport: ExportBackend {
    public let image: any DiskImage
    public let features: ExportFeatures
    public let loop: EventLoop
    /// Whether an overwrite of top-layer data may go straight to the top store.
    private let overwritesInPlace: Bool
    private let zeros: UnsafeMutableRawPointer
    private let sectorBytes: UInt64 = 512

    enum Phase {
        static let reading = 1
        static let posted = 2
    }

    public init(image: any DiskImage, readOnly: Bool = false) {
        precondition(!image.layerStores.isEmpty, "an image without a store")
        self.image = image
        self.loop = image.layerStores[0].loop
        let stores = image.layerStores
        let alignment = max(Int(sectorBytes), stores.map { $0.capabilities.alignment }.max()!)
        let transfer = min(DataPathLimits.payloadBytesMax, stores.map { $0.capabilities.transferBytesMax }.min()!)
        features = ExportFeatures(isReadOnly: readOnly || image.isReadOnly, minimumBlock: alignment,
                                  transferBytesMax: transfer, canTrim: false, canWriteZeroes: true,
                                  canFastZero: true, canMultiConn: true)
        zeros = .allocate(byteCount: DataPathLimits.zeroBufferBytes, alignment: StorageLimits.bufferAlignment)
        zeros.initializeMemory(as: UInt8.self, repeating: 0, count: DataPathLimits.zeroBufferBytes)
        overwritesInPlace = image.rewritesDataInPlace
    }

    deinit { zeros.deallocate() }

    public var name: String { image.name }
    public var size: UInt64 { image.virtualSize }

    public func close() throws {
        try image.close()
    }

    public func prepare(_ request: ExportRequest) {
        request.io.onComplete = { [unowned(unsafe) request] _ in
            request.complete(error: request.firstError)
        }
    }

    public func submit(_ r: ExportRequest) {
        switch r.command {
        case .read:
            startRead(r)
        case .write:
            if overwritesInPlace && startOverwrite(r) { return }
            let error = perform {
                try image.write(UnsafeRawBufferPointer(start: r.buffer, count: r.length), at: VirtualOffset(r.offset))
                if r.fua { try image.flush() }
            }
            completeLater(r, error: error, phaseDone: Phase.posted)
        case .flush:
            completeLater(r, error: perform { try image.flush() }, phaseDone: Phase.posted)
        case .writeZeroes:
            if !r.flags.contains(.noHole), readsAsZero(r.offset, r.length) {
                // Already zeros (a hole through the chain): nothing to write or allocate.
                completeLater(r, error: r.fua ? perform { try image.flush() } : nil, phaseDone: Phase.posted)
                return
            }
            if r.flags.contains(.fastZero) {
                completeLater(r, error: .notSupported, phaseDone: Phase.posted)
                return
            }
            let error = perform {
                var at = r.offset
                let end = r.offset + UInt64(r.length)
                while at < end {
                    let n = Int(min(UInt64(DataPathLimits.zeroBufferBytes), end - at))
                    try image.write(UnsafeRawBufferPointer(start: zeros, count: n), at: VirtualOffset(at))
                    at += UInt64(n)
                }
                if r.fua { try image.flush() }
            }
            completeLater(r, error: error, phaseDone: Phase.posted)
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
    private func perform(_ body: () throws -> Void) -> NBDError? {
        do {
            try body()
            return nil
        } catch {
            return NBDErrorMapping.nbdError(error)
        }
    }

    private func startRead(_ r: ExportRequest) {
        let extents: [ReadExtent]
        do {
            extents = try image.resolve(at: VirtualOffset(r.offset), length: UInt64(r.length))
        } catch {
            completeLater(r, error: NBDErrorMapping.nbdError(error), phaseDone: Phase.posted)
            return
        }
        let stores = image.layerStores
        var hostCount = 0
        var aligned = true
        for e in extents {
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
        for e in extents {
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
                stores[layer].submit(io)
            }
        }
    }

    /// Writes `r` straight to the top store when every byte of it is top-layer data;
    /// false (nothing started) otherwise.
    private func startOverwrite(_ r: ExportRequest) -> Bool {
        guard let extents = try? image.resolve(at: VirtualOffset(r.offset), length: UInt64(r.length)),
              !extents.isEmpty else { return false }
        let store = image.layerStores[0]
        let mask = UInt64(store.capabilities.alignment - 1)
        for e in extents {
            guard case let .host(layer, host) = e.source, layer == 0,
                  host.bytes & mask == 0, e.length & mask == 0, (e.virtualOffset.bytes - r.offset) & mask == 0 else {
                return false
            }
        }
        while r.subrequests.count < extents.count { r.subrequests.append(makeSubrequest(for: r)) }
        r.phase = Phase.reading
        r.pendingCount = extents.count
        for (i, e) in extents.enumerated() {
            guard case let .host(_, host) = e.source else { continue }
            let io = r.subrequests[i]
            io.operation = .write
            io.buffer = r.buffer! + Int(e.virtualOffset.bytes - r.offset)
            io.length = Int(e.length)
            io.offset = host.bytes
            io.fua = r.fua && store.capabilities.canFUA
            store.submit(io)
        }
        // FUA without store support: the image's flush after the data (rare; sync).
        if r.fua && !store.capabilities.canFUA { r.flushAfterSubrequests = true }
        return true
    }

    private func makeSubrequest(for r: ExportRequest) -> IORequest {
        let io = IORequest()
        io.onComplete = { [unowned self, unowned(unsafe) r] io in
            if let failure = io.failure, r.firstError == nil { r.firstError = NBDErrorMapping.nbdError(failure) }
            r.pendingCount -= 1
            guard r.pendingCount == 0 else { return }
            if r.flushAfterSubrequests && r.firstError == nil {
                do { try self.image.flush() } catch { r.firstError = NBDErrorMapping.nbdError(error) }
            }
            r.complete(error: r.firstError)
        }
        return io
    }
}
