import NBD
import StorageIO

/// Exports a raw `BlockIO` (a file, a block device, a simulated disk): every NBD request is
/// one store request on the same loop, so a read costs one SQE and one reply.
///
/// Block status reports everything as data (a raw store has no allocation map here).
/// WRITE_ZEROES punches a hole where the store can; with NO_HOLE it writes zeros, which
/// FAST_ZERO refuses with ENOTSUP.
public final class BlockIOExport: ExportBackend {
    public let store: any BlockIO
    public let features: ExportFeatures
    private let zeros: UnsafeMutableRawPointer

    enum Phase {
        static let main = 0
        static let discardLoop = 1
        static let zeroWriteLoop = 2
        static let flushAfter = 3
        static let posted = 4
    }

    /// Exports `store`; `readOnly` refuses writes even when the store takes them.
    public init(store: any BlockIO, readOnly: Bool = false) {
        self.store = store
        let caps = store.capabilities
        let readOnly = readOnly || caps.isReadOnly
        features = ExportFeatures(
            isReadOnly: readOnly, minimumBlock: caps.alignment,
            transferBytesMax: min(caps.transferBytesMax, DataPathLimits.payloadBytesMax),
            canTrim: caps.canTrim, canWriteZeroes: true, canFastZero: caps.canTrim, canMultiConn: true)
        zeros = .allocate(byteCount: DataPathLimits.zeroBufferBytes, alignment: StorageLimits.bufferAlignment)
        zeros.initializeMemory(as: UInt8.self, repeating: 0, count: DataPathLimits.zeroBufferBytes)
    }

    deinit { zeros.deallocate() }

    public var name: String { store.name }
    public var size: UInt64 { store.size }
    public var loop: EventLoop { store.loop }

    public func close() throws {
        defer { store.close() }
        if !features.isReadOnly && !store.isClosed { try store.flush() }
    }

    public func prepare(_ request: ExportRequest) {
        request.io.onComplete = { [unowned(unsafe) self, unowned(unsafe) request] io in
            self.ioCompleted(request, io)
        }
    }

    public func submit(_ r: ExportRequest) {
        let io = r.io
        io.fua = false
        switch r.command {
        case .read, .write:
            io.operation = r.command == .read ? .read : .write
            io.buffer = r.buffer
            io.length = r.length
            io.offset = r.offset
            io.fua = r.command == .write && r.fua && store.capabilities.canFUA
            r.phase = Phase.main
            store.submit(io)
        case .flush:
            startFlush(r, phase: Phase.main)
        case .trim:
            // A hint: trim the aligned inside of the range, skip the rest.
            let mask = UInt64(store.capabilities.alignment - 1)
            r.cursor = (r.offset + mask) & ~mask
            r.end = max(r.cursor, (r.offset + UInt64(r.length)) & ~mask)
            if !store.capabilities.canTrim || r.cursor == r.end {
                completeLater(r, error: nil, phaseDone: Phase.posted)
            } else {
                r.phase = Phase.discardLoop
                nextChunk(r)
            }
        case .writeZeroes:
            r.cursor = r.offset
            r.end = r.offset + UInt64(r.length)
            let punch = !r.flags.contains(.noHole) && store.capabilities.canTrim
            if !punch && r.flags.contains(.fastZero) {
                completeLater(r, error: .notSupported, phaseDone: Phase.posted)
            } else if r.length == 0 {
                completeLater(r, error: nil, phaseDone: Phase.posted)
            } else {
                r.phase = punch ? Phase.discardLoop : Phase.zeroWriteLoop
                nextChunk(r)
            }
        case .cache:
            completeLater(r, error: nil, phaseDone: Phase.posted)
        case .blockStatus:
            r.extents.append((UInt64(r.length), .data))
            completeLater(r, error: nil, phaseDone: Phase.posted)
        case .disconnect:
            preconditionFailure("DISC is not a backend request")
        }
    }

    private func startFlush(_ r: ExportRequest, phase: Int) {
        r.io.operation = .flush
        r.io.length = 0
        r.io.offset = 0
        r.phase = phase
        store.submit(r.io)
    }

    /// Issues the next piece of a discard or zero-write loop over `[cursor, end)`.
    private func nextChunk(_ r: ExportRequest) {
        let io = r.io
        let chunkMax = r.phase == Phase.discardLoop
            ? store.capabilities.transferBytesMax
            : min(store.capabilities.transferBytesMax, DataPathLimits.zeroBufferBytes)
        let n = Int(min(UInt64(chunkMax), r.end - r.cursor))
        io.operation = r.phase == Phase.discardLoop ? .discard : .write
        io.buffer = r.phase == Phase.discardLoop ? nil : zeros
        io.length = n
        io.offset = r.cursor
        r.cursor += UInt64(n)
        store.submit(io)
    }

    private func ioCompleted(_ r: ExportRequest, _ io: IORequest) {
        if r.phase == Phase.posted {
            r.complete(error: r.firstError)
            return
        }
        if let failure = io.failure {
            r.complete(error: NBDErrorMapping.nbdError(failure))
            return
        }
        switch r.phase {
        case Phase.discardLoop, Phase.zeroWriteLoop:
            if r.cursor < r.end { nextChunk(r); return }
            if r.fua { startFlush(r, phase: Phase.flushAfter); return }
        case Phase.main where r.command == .write && r.fua && !io.fua:
            startFlush(r, phase: Phase.flushAfter)
            return
        default:
            break
        }
        r.complete(error: nil)
    }
}
