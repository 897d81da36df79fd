/// Reply encoders that write straight into preallocated memory (the hot path allocates
/// nothing). Each returns the number of header bytes written; data, when any, follows
/// separately from the request's own buffer.
public enum NBDReplyEncoding {
    /// Simple reply: `magic | error | cookie` (16 bytes).
    @inline(__always)
    public static func simple(into p: UnsafeMutableRawPointer, cookie: UInt64, error: NBDError?) -> Int {
        p.storeBE(NBDMagic.simpleReply, at: 0)
        p.storeBE(error?.rawValue ?? 0, at: 4)
        p.storeBE(cookie, at: 8)
        return NBDLimits.simpleReplyHeaderBytes
    }

    /// A structured chunk header: `magic | flags | type | cookie | length` (20 bytes).
    @inline(__always)
    public static func chunkHeader(into p: UnsafeMutableRawPointer, flags: UInt16, type: NBDChunkType,
                                   cookie: UInt64, length: UInt32) -> Int {
        p.storeBE(NBDMagic.structuredReply, at: 0)
        p.storeBE(flags, at: 4)
        p.storeBE(type.rawValue, at: 6)
        p.storeBE(cookie, at: 8)
        p.storeBE(length, at: 16)
        return NBDLimits.structuredChunkHeaderBytes
    }

    /// OFFSET_DATA chunk header and offset; `dataLength` bytes of data follow.
    @inline(__always)
    public static func offsetData(into p: UnsafeMutableRawPointer, cookie: UInt64, offset: UInt64,
                                  dataLength: Int, done: Bool) -> Int {
        _ = chunkHeader(into: p, flags: done ? NBDChunkFlags.done : 0, type: .offsetData, cookie: cookie,
                        length: UInt32(8 + dataLength))
        p.storeBE(offset, at: 20)
        return NBDLimits.offsetDataPrefixBytes
    }

    /// OFFSET_HOLE chunk: `size` bytes at `offset` read as zeros.
    @inline(__always)
    public static func offsetHole(into p: UnsafeMutableRawPointer, cookie: UInt64, offset: UInt64,
                                  size: UInt32, done: Bool) -> Int {
        _ = chunkHeader(into: p, flags: done ? NBDChunkFlags.done : 0, type: .offsetHole, cookie: cookie, length: 12)
        p.storeBE(offset, at: 20)
        p.storeBE(size, at: 28)
        return NBDLimits.offsetHoleChunkBytes
    }

    /// ERROR chunk without a message, flagged DONE (it ends the reply).
    @inline(__always)
    public static func errorChunk(into p: UnsafeMutableRawPointer, cookie: UInt64, error: NBDError) -> Int {
        _ = chunkHeader(into: p, flags: NBDChunkFlags.done, type: .error, cookie: cookie, length: 6)
        p.storeBE(error.rawValue, at: 20)
        p.storeBE(UInt16(0), at: 24)
        return NBDLimits.errorChunkBytes
    }

    /// NONE chunk with DONE: ends a structured reply that carried no chunk of its own.
    @inline(__always)
    public static func doneChunk(into p: UnsafeMutableRawPointer, cookie: UInt64) -> Int {
        chunkHeader(into: p, flags: NBDChunkFlags.done, type: .none, cookie: cookie, length: 0)
    }

    /// BLOCK_STATUS chunk (DONE) with `extents` (length, flags) descriptors; returns its
    /// total size. `p` must have room for `blockStatusPrefixBytes + 8 × extents.count`.
    public static func blockStatus(into p: UnsafeMutableRawPointer, cookie: UInt64, contextID: UInt32,
                                   extents: UnsafeBufferPointer<NBDExtent>) -> Int {
        let length = 4 + NBDLimits.blockStatusDescriptorBytes * extents.count
        _ = chunkHeader(into: p, flags: NBDChunkFlags.done, type: .blockStatus, cookie: cookie, length: UInt32(length))
        p.storeBE(contextID, at: 20)
        var at = NBDLimits.blockStatusPrefixBytes
        for e in extents {
            p.storeBE(e.length, at: at)
            p.storeBE(e.state.rawValue, at: at + 4)
            at += NBDLimits.blockStatusDescriptorBytes
        }
        return at
    }
}

/// One `base:allocation` descriptor.
public struct NBDExtent: Equatable, Sendable {
    public var length: UInt32
    public var state: NBDBlockState
    public init(length: UInt32, state: NBDBlockState) {
        self.length = length
        self.state = state
    }
}

/// Shapes a backend's allocation map into a valid BLOCK_STATUS reply: no zero-length
/// extents, neighbours with equal flags merged, at most one extent with REQ_ONE (never past
/// the request), at most `NBDLimits.blockStatusExtentsMax`, and lengths that fit a u32.
public enum NBDBlockStatusShaping {
    /// `extents` are (length, state) runs starting at the request's offset.
    public static func shape(_ extents: [(length: UInt64, state: NBDBlockState)], requestLength: UInt32,
                             reqOne: Bool, alignment: UInt32) -> [NBDExtent] {
        var out: [NBDExtent] = []
        var covered: UInt64 = 0
        let cap = UInt64(UInt32.max) / UInt64(alignment) * UInt64(alignment)
        runs: for (length, state) in extents where length > 0 {
            var left = length
            while left > 0 {
                if covered >= UInt64(requestLength) && !out.isEmpty { break runs }
                if let last = out.last, last.state == state, UInt64(last.length) + left <= cap {
                    out[out.count - 1].length += UInt32(left)
                    covered += left
                    left = 0
                } else {
                    if out.count >= NBDLimits.blockStatusExtentsMax { break runs }
                    let n = min(left, cap)
                    out.append(NBDExtent(length: UInt32(n), state: state))
                    covered += n
                    left -= n
                }
            }
        }
        return finish(out, requestLength, reqOne)
    }

    private static func finish(_ list: [NBDExtent], _ requestLength: UInt32, _ reqOne: Bool) -> [NBDExtent] {
        guard reqOne, var first = list.first else { return list }
        first.length = min(first.length, requestLength)
        return [first]
    }
}
