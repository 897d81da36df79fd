/// The byte-addressed store seam: local files, NFS files, iSCSI volumes and the simulated disk
/// all implement it, and image formats see nothing else.
///
/// The core is asynchronous: `submit` queues a request on the store's event loop, which
/// completes it later on the loop thread. The synchronous methods in the extension below run
/// the loop until their request is done; they are for metadata and tools, not the hot path.
/// A store is confined to its loop's thread.
public protocol BlockIO: AnyObject {
    /// Names the store in errors and logs (a path, a URL).
    var name: String { get }
    var capabilities: BlockIOCapabilities { get }
    /// Current size in bytes.
    var size: UInt64 { get }
    var isClosed: Bool { get }
    /// The loop that completes this store's requests.
    var loop: EventLoop { get }

    /// Queues `request`; it completes later through `request.onComplete`, with a typed failure
    /// for bad input rather than a crash.
    func submit(_ request: IORequest)
    /// Grows or truncates the store. Waits for nothing in flight: callers order it themselves.
    func resize(to newSize: UInt64) throws
    /// Releases the store. Requests submitted afterwards fail with `.closed`.
    func close()
}

extension BlockIO {
    /// Checks a request against the store's state and capabilities; nil when it may proceed.
    public func validate(_ request: IORequest) -> BlockIOError? {
        let op = request.operation
        if isClosed { return .closed(store: name, operation: op) }
        let caps = capabilities
        if caps.isReadOnly && (op == .write || op == .discard) {
            return .readOnly(store: name, operation: op)
        }
        if op == .flush { return nil }
        if op == .discard && !caps.canTrim { return .unsupported(store: name, what: "discard") }
        if request.length < 0 || request.length > caps.transferBytesMax {
            return .transferTooLarge(store: name, length: request.length, maximum: caps.transferBytesMax)
        }
        let (end, overflow) = request.offset.addingReportingOverflow(UInt64(request.length))
        if overflow || end > size {
            return .outOfRange(store: name, operation: op, offset: request.offset,
                               length: UInt64(request.length), size: size)
        }
        let mask = UInt64(caps.alignment - 1)
        if request.offset & mask != 0 {
            return .unaligned(store: name, operation: op, field: "offset", value: request.offset, alignment: caps.alignment)
        }
        if UInt64(request.length) & mask != 0 {
            return .unaligned(store: name, operation: op, field: "length", value: UInt64(request.length), alignment: caps.alignment)
        }
        if op != .discard && request.length > 0 {
            guard let buffer = request.buffer else {
                preconditionFailure("\(op) request without a buffer")
            }
            let address = UInt64(UInt(bitPattern: buffer))
            if address & mask != 0 {
                return .unaligned(store: name, operation: op, field: "buffer address", value: address, alignment: caps.alignment)
            }
        }
        return nil
    }

    /// Submits one request and runs the loop until it completes; throws its failure.
    @discardableResult
    public func perform(_ request: IORequest) throws -> Int {
        submit(request)
        loop.run(until: { request.isComplete })
        if let failure = request.failure { throw failure }
        return Int(request.result)
    }

    /// Reads `buffer.count` bytes at `offset`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        try perform(IORequest(.read, buffer: buffer.baseAddress, length: buffer.count, offset: offset))
    }

    /// Writes `data` at `offset`; with `fua`, durable when this returns.
    public func write(_ data: UnsafeRawBufferPointer, at offset: UInt64, fua: Bool = false) throws {
        try perform(IORequest(.write, buffer: UnsafeMutableRawPointer(mutating: data.baseAddress),
                              length: data.count, offset: offset, fua: fua))
    }

    /// Makes every completed write durable.
    public func flush() throws {
        try perform(IORequest(.flush))
    }

    /// Releases the space of a range; it reads back as zeros afterwards.
    public func discard(at offset: UInt64, length: Int) throws {
        try perform(IORequest(.discard, length: length, offset: offset))
    }
}
