import ImageFormats
import NBD
import StorageIO

/// One request to an export backend: a reusable slot owned by a connection, so serving a
/// request allocates nothing. The backend completes it on the loop thread, never inside
/// `submit`, through `complete(error:)`.
public final class ExportRequest {
    public internal(set) var command: NBDCommand = .read
    public internal(set) var flags: NBDCommandFlags = []
    public internal(set) var offset: UInt64 = 0
    public internal(set) var length: Int = 0
    /// READ: where the data goes; WRITE: the data. At least `length` bytes, page-aligned.
    public internal(set) var buffer: UnsafeMutableRawPointer?

    /// READ: the backend found the whole range reads as zeros and left `buffer` untouched
    /// (the connection then sends a hole, or zeros for a simple reply).
    public var readIsHole = false
    /// BLOCK_STATUS: (length, state) runs from `offset` on; at least one.
    public var extents: [(length: UInt64, state: NBDBlockState)] = []

    public private(set) var error: NBDError?
    public private(set) var isComplete = true

    /// Backend scratch: a BlockIO request created once with the slot, its progress, and more
    /// requests for backends that split one request (image extents).
    public let io = IORequest()
    public var cursor: UInt64 = 0
    public var end: UInt64 = 0
    public var phase = 0
    public var pendingCount = 0
    public var subrequests: [IORequest] = []
    public var firstError: NBDError?
    /// Backend scratch: flush once every subrequest is done.
    public var flushAfterSubrequests = false
    /// Backend scratch: where an image maps this request (kept, so resolving allocates nothing).
    var plan: [ReadExtent] = []

    var onComplete: ((ExportRequest) -> Void)?

    init() {
        extents.reserveCapacity(16)
        plan.reserveCapacity(8)
    }

    var fua: Bool { flags.contains(.fua) }

    func begin(command: NBDCommand, flags: NBDCommandFlags, offset: UInt64, length: Int,
               buffer: UnsafeMutableRawPointer?) {
        precondition(isComplete, "ExportRequest reused while in flight")
        isComplete = false
        self.command = command
        self.flags = flags
        self.offset = offset
        self.length = length
        self.buffer = buffer
        readIsHole = false
        extents.removeAll(keepingCapacity: true)
        error = nil
        cursor = 0
        end = 0
        phase = 0
        pendingCount = 0
        firstError = nil
        flushAfterSubrequests = false
    }

    /// Ends the request with `error` (nil: success) and hands it back to the connection.
    public func complete(error: NBDError?) {
        precondition(!isComplete, "ExportRequest completed twice")
        self.error = error
        isComplete = true
        onComplete?(self)
    }
}
