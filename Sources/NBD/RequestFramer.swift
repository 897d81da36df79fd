/// Splits the transmission byte stream into request headers and write payloads, without I/O
/// and without copying payloads: it hands back slices of the caller's input.
///
/// After each `.request` the caller decides what follows: `expectPayload` for a write it
/// accepted, `discardPayload` for a write it rejected, nothing for other commands.
public struct NBDRequestFramer {
    public enum Event {
        /// More bytes are needed.
        case needMore
        case request(NBDRequestHeader)
        /// Part of the current write's payload; `isLast` when the payload is complete.
        case payload(UnsafeRawBufferPointer, isLast: Bool)
        /// The magic was wrong: the stream cannot be resynchronised.
        case badMagic
    }

    enum State: Equatable {
        case header
        case payload(remaining: Int)
        case discard(remaining: Int)
        case broken
    }

    private(set) var state: State = .header
    /// A header split across reads is assembled here (28 bytes, allocated once).
    private var partial: [UInt8] = []

    public init() { partial.reserveCapacity(NBDLimits.requestHeaderBytes) }

    /// Bytes of payload still expected for the current write (0 between requests).
    public var payloadRemaining: Int {
        if case let .payload(n) = state { return n }
        return 0
    }

    public var isBetweenRequests: Bool { state == .header && partial.isEmpty }

    /// The current request's payload is to be delivered (`length` bytes).
    public mutating func expectPayload(_ length: Int) {
        precondition(state == .header, "expectPayload outside a request")
        if length > 0 { state = .payload(remaining: length) }
    }

    /// The current request's payload is to be skipped.
    public mutating func discardPayload(_ length: Int) {
        precondition(state == .header, "discardPayload outside a request")
        if length > 0 { state = .discard(remaining: length) }
    }

    /// Consumes from `input` up to the next event. Returns the event and the bytes used.
    public mutating func next(_ input: UnsafeRawBufferPointer) -> (event: Event, consumed: Int) {
        var used = 0
        while true {
            switch state {
            case .broken:
                return (.badMagic, used)
            case .header:
                let headerBytes = NBDLimits.requestHeaderBytes
                if partial.isEmpty && input.count - used >= headerBytes {
                    let base = input.baseAddress! + used
                    used += headerBytes
                    guard let header = NBDRequestHeader.decode(base) else { state = .broken; return (.badMagic, used) }
                    return (.request(header), used)
                }
                let n = min(headerBytes - partial.count, input.count - used)
                if n > 0 { partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[used..<(used + n)])) }
                used += n
                guard partial.count == headerBytes else { return (.needMore, used) }
                let header = partial.withUnsafeBytes { NBDRequestHeader.decode($0.baseAddress!) }
                partial.removeAll(keepingCapacity: true)
                guard let header else { state = .broken; return (.badMagic, used) }
                return (.request(header), used)
            case let .payload(remaining):
                let n = min(remaining, input.count - used)
                guard n > 0 else { return (.needMore, used) }
                let slice = UnsafeRawBufferPointer(rebasing: input[used..<(used + n)])
                used += n
                state = n == remaining ? .header : .payload(remaining: remaining - n)
                return (.payload(slice, isLast: n == remaining), used)
            case let .discard(remaining):
                let n = min(remaining, input.count - used)
                used += n
                if n < remaining { state = .discard(remaining: remaining - n); return (.needMore, used) }
                state = .header
            }
        }
    }

    /// Accounts payload bytes the caller received straight into its own buffer (large writes
    /// bypass the staging buffer). Returns true when the payload is complete.
    public mutating func payloadReceivedDirectly(_ count: Int) -> Bool {
        guard case let .payload(remaining) = state, count <= remaining else {
            preconditionFailure("direct payload bytes outside a payload")
        }
        state = count == remaining ? .header : .payload(remaining: remaining - count)
        return count == remaining
    }
}
