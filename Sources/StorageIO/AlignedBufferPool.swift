/// Page-aligned I/O buffers carved from one region, handed out and returned without
/// allocating, and registered with an io_uring loop so requests on them use fixed buffers.
///
/// Not thread-safe: a pool belongs to one loop, like everything on it. The pool must outlive
/// the loops it is registered with.
public final class AlignedBufferPool {
    public let bufferSize: Int
    public let count: Int
    public let region: UnsafeMutableRawBufferPointer
    private let freeList: UnsafeMutablePointer<Int32>
    private var freeCount: Int

    /// `count` buffers of `bufferSize` bytes (a multiple of the page alignment).
    public init(bufferSize: Int, count: Int, alignment: Int = StorageLimits.bufferAlignment) {
        precondition(bufferSize > 0 && bufferSize % alignment == 0, "buffer size must be a multiple of \(alignment)")
        precondition(count > 0, "a pool needs at least one buffer")
        self.bufferSize = bufferSize
        self.count = count
        self.region = .allocate(byteCount: bufferSize * count, alignment: alignment)
        region.initializeMemory(as: UInt8.self, repeating: 0)
        self.freeList = .allocate(capacity: count)
        for i in 0..<count { freeList[i] = Int32(count - 1 - i) }
        self.freeCount = count
    }

    deinit {
        region.deallocate()
        freeList.deallocate()
    }

    public var available: Int { freeCount }

    /// A free buffer, or nil when all are in use.
    @inline(__always)
    public func take() -> UnsafeMutableRawPointer? {
        guard freeCount > 0 else { return nil }
        freeCount -= 1
        return region.baseAddress! + Int(freeList[freeCount]) * bufferSize
    }

    /// Returns a buffer obtained from `take()`.
    @inline(__always)
    public func give(_ buffer: UnsafeMutableRawPointer) {
        let distance = buffer - region.baseAddress!
        precondition(distance >= 0 && distance % bufferSize == 0 && distance / bufferSize < count,
                     "buffer does not belong to this pool")
        precondition(freeCount < count, "buffer returned twice")
        freeList[freeCount] = Int32(distance / bufferSize)
        freeCount += 1
    }

    /// The i-th buffer, for clients that index buffers by request slot.
    public func buffer(at index: Int) -> UnsafeMutableRawPointer {
        precondition(index >= 0 && index < count, "buffer index out of range")
        return region.baseAddress! + index * bufferSize
    }

    /// Registers the whole region with `loop`'s ring; false where fixed buffers are refused.
    @discardableResult
    public func register(with loop: EventLoop) -> Bool {
        loop.registerBuffers(region)
    }
}
