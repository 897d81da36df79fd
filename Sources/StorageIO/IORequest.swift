/// One asynchronous BlockIO request: a reusable slot, so the hot path allocates nothing.
///
/// A client keeps a pool of these, fills one in, and hands it to `BlockIO.submit`. The store
/// completes it on its event loop's thread by setting `result` and calling `onComplete`, never
/// from inside `submit` itself, so a completion handler may submit again without re-entrancy.
public final class IORequest: RingOperation {
    public var operation: IOOperation = .read
    /// Data to write, or room to read into; at least `length` bytes. Unused for flush/discard.
    public var buffer: UnsafeMutableRawPointer?
    public var length: Int = 0
    public var offset: UInt64 = 0
    /// Write: durable on completion, without a separate flush (RWF_DSYNC / FUA).
    public var fua = false
    /// Free for the client: which slot, which NBD handle, ...
    public var tag: Int = 0
    /// Called once per submission, on the loop thread. Set it once when the slot is made.
    public var onComplete: ((IORequest) -> Void)?

    /// Bytes transferred (the whole `length` on success), or a negative errno.
    public internal(set) var result: Int32 = 0
    /// The typed error when the request failed.
    public internal(set) var failure: BlockIOError?
    public internal(set) var isComplete = true

    // Engine state: bytes already moved (short transfers are resumed), the posted-queue link,
    // and the store that owns the request while in flight.
    var transferred = 0
    var nextPosted: IORequest?
    unowned(unsafe) var executor: (any RequestExecutor)?

    public override init() { super.init() }

    /// A request filled in at once, for one-off use.
    public convenience init(_ operation: IOOperation, buffer: UnsafeMutableRawPointer? = nil,
                            length: Int = 0, offset: UInt64 = 0, fua: Bool = false) {
        self.init()
        self.operation = operation
        self.buffer = buffer
        self.length = length
        self.offset = offset
        self.fua = fua
    }

    /// Marks the request in flight; a request cannot be submitted twice at once. Every
    /// `BlockIO.submit` calls this first (stores outside this module call `begin()`).
    func begin(executor: (any RequestExecutor)?) {
        precondition(isComplete, "IORequest submitted while still in flight")
        isComplete = false
        result = 0
        failure = nil
        transferred = 0
        self.executor = executor
    }

    /// Marks the request in flight, for BlockIO implementations outside this module.
    public func begin() { begin(executor: nil) }

    /// Records the outcome and runs the client's handler. Call it only from the loop thread
    /// and never from inside `submit` (use `EventLoop.post` there).
    public func finish(result: Int32, failure: BlockIOError?) {
        self.result = result
        self.failure = failure
        self.isComplete = true
        self.executor = nil
        onComplete?(self)
    }

    override func ringCompleted(result: Int32, flags: UInt32) {
        guard let executor else { preconditionFailure("ring completion for an idle IORequest") }
        executor.ringCompleted(self, result: result)
    }
}

/// A store that receives ring completions for the requests it submitted.
protocol RequestExecutor: AnyObject {
    func ringCompleted(_ request: IORequest, result: Int32)
}
