/// One piece of a resolved virtual range.
public struct ReadExtent: Equatable, Sendable {
    public enum Source: Equatable, Sendable {
        /// Reads as zeros (a hole at the bottom of the chain).
        case zero
        /// Held by layer `layer` (0 = top) at `offset` in that layer's store.
        case host(layer: Int, offset: HostOffset)
    }

    public var virtualOffset: VirtualOffset
    public var length: UInt64
    public var source: Source

    public init(virtualOffset: VirtualOffset, length: UInt64, source: Source) {
        self.virtualOffset = virtualOffset
        self.length = length
        self.source = source
    }
}

/// One range of block status: data in some layer, or zeros.
public struct AllocationExtent: Equatable, Sendable {
    public enum State: Equatable, Sendable {
        case zero
        case data(layer: Int)
    }

    public var offset: VirtualOffset
    public var length: UInt64
    public var state: State
}

/// Appends an extent, merging it with the previous one when both are contiguous in the
/// guest and on the host (so a fully allocated region reads in few large I/Os).
func appendExtent(_ list: inout [ReadExtent], _ e: ReadExtent) {
    guard e.length > 0 else { return }
    if var last = list.last, last.virtualOffset.bytes + last.length == e.virtualOffset.bytes {
        switch (last.source, e.source) {
        case (.zero, .zero):
            last.length += e.length
            list[list.count - 1] = last
            return
        case let (.host(l1, o1), .host(l2, o2)) where l1 == l2 && o1.bytes + last.length == o2.bytes:
            last.length += e.length
            list[list.count - 1] = last
            return
        default: break
        }
    }
    list.append(e)
}
