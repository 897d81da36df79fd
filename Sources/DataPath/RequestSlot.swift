import NBD

/// One request slot of a connection: the backend request, and the reply it sends back.
///
/// A connection preallocates its slots; a slot is taken when a request header arrives and
/// freed when the last byte of its reply has gone out (or the client has gone).
final class RequestSlot {
    let index: Int32
    let request = ExportRequest()
    /// Room for the reply header (`NBDLimits.replyHeaderBytesMax`), in the connection's slab.
    let header: UnsafeMutableRawPointer
    var cookie: UInt64 = 0
    var headerLength = 0
    /// Bytes sent after the header: read data or a block status chunk.
    var payload: UnsafeMutableRawPointer?
    var payloadLength = 0
    /// The buffer this slot holds from the cache, and the size it was taken with.
    var buffer: UnsafeMutableRawPointer?
    var bufferBytes = 0

    init(index: Int32, header: UnsafeMutableRawPointer) {
        self.index = index
        self.header = header
    }

    var replyLength: Int { headerLength + payloadLength }
}

/// A fixed-capacity FIFO of slot indices: the replies waiting for the socket.
struct SlotQueue {
    private let storage: UnsafeMutablePointer<Int32>
    private let capacity: Int
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    func deallocate() { storage.deallocate() }

    var isEmpty: Bool { count == 0 }

    mutating func push(_ index: Int32) {
        precondition(count < capacity, "reply queue overflow")
        storage[(head + count) % capacity] = index
        count += 1
    }

    /// The i-th queued index from the front.
    func peek(_ i: Int) -> Int32 { storage[(head + i) % capacity] }

    mutating func pop() -> Int32 {
        precondition(count > 0, "pop from an empty reply queue")
        let v = storage[head]
        head = (head + 1) % capacity
        count -= 1
        return v
    }
}
