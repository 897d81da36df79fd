/// One transmission request header: `magic | u16 flags | u16 type | u64 cookie | u64 offset |
/// u32 length` (28 bytes). Type and flags stay raw here; validation interprets them.
public struct NBDRequestHeader: Equatable, Sendable {
    public var flags: UInt16
    public var type: UInt16
    public var cookie: UInt64
    public var offset: UInt64
    public var length: UInt32

    public init(flags: UInt16 = 0, type: UInt16, cookie: UInt64, offset: UInt64 = 0, length: UInt32 = 0) {
        self.flags = flags
        self.type = type
        self.cookie = cookie
        self.offset = offset
        self.length = length
    }

    public init(_ command: NBDCommand, flags: NBDCommandFlags = [], cookie: UInt64, offset: UInt64 = 0, length: UInt32 = 0) {
        self.init(flags: flags.rawValue, type: command.rawValue, cookie: cookie, offset: offset, length: length)
    }

    /// Decodes 28 bytes at `p`; nil when the magic is wrong (the stream is lost: disconnect).
    public static func decode(_ p: UnsafeRawPointer) -> NBDRequestHeader? {
        guard p.loadBE(UInt32.self, at: 0) == NBDMagic.request else { return nil }
        return NBDRequestHeader(flags: p.loadBE(UInt16.self, at: 4), type: p.loadBE(UInt16.self, at: 6),
                                cookie: p.loadBE(UInt64.self, at: 8), offset: p.loadBE(UInt64.self, at: 16),
                                length: p.loadBE(UInt32.self, at: 24))
    }

    /// The 28 wire bytes (clients and tests).
    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.u32(NBDMagic.request)
        w.u16(flags)
        w.u16(type)
        w.u64(cookie)
        w.u64(offset)
        w.u32(length)
        return w.bytes
    }
}
