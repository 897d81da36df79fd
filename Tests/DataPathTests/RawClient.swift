import DataPath
import Glibc
import StorageIO
import NBD

/// A minimal blocking NBD client over a Unix socket, written from proto.md for tests that
/// need bytes the real clients never send (bad requests, half requests, pipelining).
final class RawClient {
    let fd: Int32
    private(set) var structured = false

    /// Connects to `path`; every receive times out after `timeout` seconds.
    init(path: String, timeout: Int = 5) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(errno)") }
        let rc = withUnixSocketAddress(path) { connect(fd, $0, $1) }
        guard rc == 0 else { close(fd); throw HarnessError("connect \(path): errno \(errno)") }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw HarnessError("send failed: errno \(errno)") }
            sent += n
        }
    }

    func receive(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw HarnessError(n == 0 ? "EOF after \(got)/\(count) bytes" : "recv errno \(errno)") }
            got += n
        }
        return out
    }

    /// True when the server closed the connection (EOF) within the receive timeout.
    func waitForEOF() -> Bool {
        var byte: UInt8 = 0
        while true {
            let n = recv(fd, &byte, 1, 0)
            if n == 0 { return true }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return false }
        }
    }

    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    private func option(_ option: NBDOption, _ data: [UInt8]) throws {
        var w = ByteWriter()
        w.u64(NBDMagic.option); w.u32(option.rawValue); w.u32(UInt32(data.count)); w.raw(data)
        try send(w.bytes)
    }

    /// Reads option replies up to the final one; returns (type, payload) pairs.
    private func optionReplies() throws -> [(UInt32, [UInt8])] {
        var out: [(UInt32, [UInt8])] = []
        while true {
            var r = ByteReader(try receive(20))
            guard r.u64() == NBDMagic.optionReply, r.u32() != nil, let type = r.u32(), let length = r.u32() else {
                throw HarnessError("bad option reply")
            }
            let payload = try receive(Int(length))
            out.append((type, payload))
            if type == NBDOptionReply.ack.rawValue || type & 0x8000_0000 != 0 { return out }
        }
    }

    /// Negotiates like libnbd: structured replies, optionally base:allocation, then GO.
    /// Returns the export size and transmission flags.
    @discardableResult
    func handshake(export: String = "vdi", structured: Bool = true, meta: Bool = false) throws -> (UInt64, NBDTransmissionFlags) {
        let greeting = try receive(18)
        guard greeting.prefix(8) == [0x4E, 0x42, 0x44, 0x4D, 0x41, 0x47, 0x49, 0x43] else { throw HarnessError("bad greeting") }
        try send([0, 0, 0, 3])
        if structured {
            try option(.structuredReply, [])
            guard try optionReplies().last?.0 == NBDOptionReply.ack.rawValue else { throw HarnessError("no structured replies") }
            self.structured = true
        }
        if meta {
            var w = ByteWriter()
            w.u32(UInt32(export.utf8.count)); w.string(export)
            w.u32(1); w.u32(15); w.string("base:allocation")
            try option(.setMetaContext, w.bytes)
            _ = try optionReplies()
        }
        var w = ByteWriter()
        w.u32(UInt32(export.utf8.count)); w.string(export); w.u16(1); w.u16(3)
        try option(.go, w.bytes)
        let replies = try optionReplies()
        guard replies.last?.0 == NBDOptionReply.ack.rawValue,
              let info = replies.first(where: { $0.0 == NBDOptionReply.info.rawValue && $0.1.prefix(2) == [0, 0] }) else {
            throw HarnessError("GO failed: \(replies.map(\.0))")
        }
        var r = ByteReader(info.1)
        _ = r.u16()
        return (r.u64()!, NBDTransmissionFlags(rawValue: r.u16()!))
    }

    func request(_ header: NBDRequestHeader, payload: [UInt8] = []) throws {
        try send(header.encoded + payload)
    }

    /// One reply: a simple reply, or the chunks of a structured reply up to DONE.
    struct Reply {
        var cookie: UInt64
        var error: UInt32 = 0
        var data: [UInt8] = []
        var chunkTypes: [UInt16] = []
        var extents: [(UInt32, UInt32)] = []
        var holeBytes = 0
    }

    /// Reads one whole reply. `readLengths` gives the data length of simple READ replies.
    func reply(readLengths: [UInt64: Int] = [:]) throws -> Reply {
        let head = try receive(4)
        let magic = head.withUnsafeBytes { $0.baseAddress!.loadBE(UInt32.self, at: 0) }
        if magic == NBDMagic.simpleReply {
            var r = ByteReader(try receive(12))
            var reply = Reply(cookie: 0)
            reply.error = r.u32()!
            reply.cookie = r.u64()!
            if reply.error == 0, let n = readLengths[reply.cookie] { reply.data = try receive(n) }
            return reply
        }
        guard magic == NBDMagic.structuredReply else { throw HarnessError("bad reply magic \(magic)") }
        var reply: Reply?
        var rest = try receive(16)
        while true {
            var r = ByteReader(rest)
            let flags = r.u16()!, type = r.u16()!, cookie = r.u64()!, length = r.u32()!
            if reply == nil { reply = Reply(cookie: cookie) }
            guard reply!.cookie == cookie else { throw HarnessError("interleaved chunks not expected here") }
            reply!.chunkTypes.append(type)
            var p = ByteReader(try receive(Int(length)))
            switch NBDChunkType(rawValue: type) {
            case .offsetData:
                _ = p.u64()
                reply!.data += Array(p.fixed(p.remaining)!)
            case .offsetHole:
                _ = p.u64()
                let size = Int(p.u32()!)
                reply!.data += [UInt8](repeating: 0, count: size)
                reply!.holeBytes += size
            case .blockStatus:
                _ = p.u32()
                while p.remaining >= 8 { reply!.extents.append((p.u32()!, p.u32()!)) }
            case .error, .errorOffset:
                reply!.error = p.u32()!
            default:
                break
            }
            if flags & NBDChunkFlags.done != 0 { return reply! }
            let next = try receive(4)
            guard next.withUnsafeBytes({ $0.baseAddress!.loadBE(UInt32.self, at: 0) }) == NBDMagic.structuredReply else {
                throw HarnessError("bad chunk magic")
            }
            rest = try receive(16)
        }
    }

    /// READ and wait for its reply.
    func read(offset: UInt64, length: Int, cookie: UInt64 = 1) throws -> Reply {
        try request(NBDRequestHeader(.read, cookie: cookie, offset: offset, length: UInt32(length)))
        return try reply(readLengths: [cookie: length])
    }

    /// WRITE and wait for its reply; returns the error (0 on success).
    func write(offset: UInt64, _ data: [UInt8], fua: Bool = false, cookie: UInt64 = 2) throws -> UInt32 {
        try request(NBDRequestHeader(.write, flags: fua ? .fua : [], cookie: cookie, offset: offset,
                                     length: UInt32(data.count)), payload: data)
        return try reply().error
    }

    func simple(_ command: NBDCommand, flags: NBDCommandFlags = [], offset: UInt64 = 0, length: UInt32 = 0,
                cookie: UInt64 = 3) throws -> UInt32 {
        try request(NBDRequestHeader(command, flags: flags, cookie: cookie, offset: offset, length: length))
        return try reply().error
    }

    func disconnect() throws {
        try request(NBDRequestHeader(.disconnect, cookie: 0))
    }
}
