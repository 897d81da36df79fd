import NBD

/// Client-side message builders and a reply parser, written from proto.md for the tests.
enum Client {
    static func flags(_ f: UInt32 = 3) -> [UInt8] {
        var w = ByteWriter(); w.u32(f); return w.bytes
    }

    static func option(_ option: UInt32, _ data: [UInt8] = []) -> [UInt8] {
        var w = ByteWriter()
        w.u64(NBDMagic.option)
        w.u32(option)
        w.u32(UInt32(data.count))
        w.raw(data)
        return w.bytes
    }

    static func option(_ option: NBDOption, _ data: [UInt8] = []) -> [UInt8] {
        self.option(option.rawValue, data)
    }

    static func infoData(_ name: String, _ types: [UInt16]) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(name.utf8.count)); w.string(name)
        w.u16(UInt16(types.count)); for t in types { w.u16(t) }
        return w.bytes
    }

    static func metaData(_ name: String, _ queries: [String]) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(name.utf8.count)); w.string(name)
        w.u32(UInt32(queries.count))
        for q in queries { w.u32(UInt32(q.utf8.count)); w.string(q) }
        return w.bytes
    }
}

struct ParsedReply: Equatable {
    var option: UInt32
    var type: UInt32
    var payload: [UInt8]
}

/// Splits bytes into option replies; nil on a malformed stream.
func parseOptionReplies(_ bytes: [UInt8]) -> [ParsedReply]? {
    var r = ByteReader(bytes)
    var out: [ParsedReply] = []
    while r.remaining > 0 {
        guard r.u64() == NBDMagic.optionReply, let option = r.u32(), let type = r.u32(), let length = r.u32(),
              let payload = r.fixed(Int(length)) else { return nil }
        out.append(ParsedReply(option: option, type: type, payload: Array(payload)))
    }
    return out
}

/// Drives a negotiation with `input`, optionally one byte at a time; collects sent bytes.
struct Driven {
    var sent: [UInt8] = []
    var closed: String?
    var session: NBDSession?
    var consumed = 0
}

func drive(_ machine: inout NBDNegotiation, _ input: [UInt8], byteByByte: Bool = false) -> Driven {
    var result = Driven()
    var position = 0
    while position < input.count && result.closed == nil && result.session == nil {
        let end = byteByByte ? position + 1 : input.count
        let (used, actions) = input[position..<end].withUnsafeBytes { machine.receive($0) }
        position += used
        for a in actions {
            switch a {
            case let .send(b): result.sent += b
            case let .close(reason): result.closed = reason
            case let .transmit(s): result.session = s
            }
        }
        if used == 0 && !byteByByte { break }
    }
    result.consumed = position
    return result
}

let testExport = NBDExportDescription(
    name: "vdi", description: "a test disk", size: 1 << 20,
    flags: [.hasFlags, .sendFlush, .sendFUA, .sendTrim, .sendWriteZeroes, .sendFastZero, .sendDF, .canMultiConn, .sendCache],
    minimumBlock: 512, preferredBlock: 4096, maximumPayload: 32 << 20)

let otherExport = NBDExportDescription(name: "snap", size: 1 << 20, flags: [.hasFlags, .readOnly], minimumBlock: 512)
