import NBD
import StorageIO

/// What an export can do: the NBD server advertises exactly this.
public struct ExportFeatures: Sendable, Equatable {
    public var isReadOnly: Bool
    /// Requests must be multiples of this (the backend's alignment, a power of two).
    public var minimumBlock: Int
    /// The largest READ/WRITE payload one request may carry.
    public var transferBytesMax: Int
    public var canFlush = true
    public var canFUA = true
    public var canTrim: Bool
    public var canWriteZeroes: Bool
    /// WRITE_ZEROES with FAST_ZERO succeeds only when zeroing beats writing.
    public var canFastZero: Bool
    /// No per-connection cache: a FLUSH on any connection covers writes replied on all.
    public var canMultiConn: Bool
    public var isRotational = false

    public init(isReadOnly: Bool, minimumBlock: Int, transferBytesMax: Int, canTrim: Bool,
                canWriteZeroes: Bool, canFastZero: Bool, canMultiConn: Bool) {
        self.isReadOnly = isReadOnly
        self.minimumBlock = minimumBlock
        self.transferBytesMax = transferBytesMax
        self.canTrim = canTrim
        self.canWriteZeroes = canWriteZeroes
        self.canFastZero = canFastZero
        self.canMultiConn = canMultiConn
    }

    /// The transmission flags that say this to a client.
    public var transmissionFlags: NBDTransmissionFlags {
        var f: NBDTransmissionFlags = [.hasFlags, .sendDF, .sendCache]
        if isReadOnly { f.insert(.readOnly) }
        if canFlush { f.insert(.sendFlush) }
        if canFUA { f.insert(.sendFUA) }
        if isRotational { f.insert(.rotational) }
        if !isReadOnly {
            if canTrim { f.insert(.sendTrim) }
            if canWriteZeroes { f.insert(.sendWriteZeroes) }
            if canWriteZeroes && canFastZero { f.insert(.sendFastZero) }
        }
        if canMultiConn { f.insert(.canMultiConn) }
        return f
    }
}

/// A virtual disk the NBD server exports: a raw store, an image, an image chain.
///
/// Everything runs on the backend's event loop thread. `submit` starts a request whose
/// range and flags the server has already validated against `size` and `features`; the
/// backend completes it later with `ExportRequest.complete(error:)`, never from inside
/// `submit` (post to the loop for work done at once), so a connection can submit while it
/// parses without re-entrancy.
public protocol ExportBackend: AnyObject {
    /// Names the export's content in logs (a path).
    var name: String { get }
    var size: UInt64 { get }
    var features: ExportFeatures { get }
    var loop: EventLoop { get }

    /// Called once per slot when a connection creates it: set up `request.io` handlers.
    func prepare(_ request: ExportRequest)
    /// Starts a READ, WRITE, FLUSH, TRIM, WRITE_ZEROES, CACHE or BLOCK_STATUS request.
    func submit(_ request: ExportRequest)
    /// Makes everything written durable and releases the stores; after the server stopped.
    func close() throws
}

extension ExportBackend {
    /// Completes `request` on the next loop turn: for work a backend did at once.
    func completeLater(_ request: ExportRequest, error: NBDError?, phaseDone: Int) {
        request.phase = phaseDone
        request.firstError = error
        loop.post(request.io, result: 0, failure: nil)
    }
}
