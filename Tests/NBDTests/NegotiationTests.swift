import NBD
import Testing

@Suite("NBD negotiation state machine")
struct NegotiationTests {
    @Test("greeting is NBDMAGIC IHAVEOPT 0x0003")
    func greeting() {
        let m = NBDNegotiation(exports: [testExport])
        #expect(m.greeting() == [0x4E, 0x42, 0x44, 0x4D, 0x41, 0x47, 0x49, 0x43,
                                 0x49, 0x48, 0x41, 0x56, 0x45, 0x4F, 0x50, 0x54, 0x00, 0x03])
    }

    @Test("unknown client flags drop the connection")
    func unknownClientFlags() {
        var m = NBDNegotiation(exports: [testExport])
        let d = drive(&m, Client.flags(0x7))
        #expect(d.closed != nil)
        #expect(m.isFinished)
    }

    @Test("bad option magic drops the connection")
    func badOptionMagic() {
        var m = NBDNegotiation(exports: [testExport])
        var bytes = Client.flags() + Client.option(.structuredReply)
        bytes[4] ^= 0xFF
        #expect(drive(&m, bytes).closed != nil)
    }

    @Test("nbdinfo's sequence, fed whole and byte by byte", arguments: [false, true])
    func nbdinfoSequence(byteByByte: Bool) throws {
        var m = NBDNegotiation(exports: [testExport])
        let input = Client.flags()
            + Client.option(.structuredReply)
            + Client.option(.info, Client.infoData("vdi", [3, 1, 2]))
            + Client.option(.listMetaContext, Client.metaData("vdi", []))
            + Client.option(.go, Client.infoData("vdi", [3, 1, 2]))
            + [0xAA, 0xBB] // first bytes of the transmission phase
        let d = drive(&m, input, byteByByte: byteByByte)
        #expect(d.closed == nil)
        #expect(d.consumed == input.count - 2, "transmission bytes must be left alone")
        let session = try #require(d.session)
        #expect(session.structuredReplies)
        #expect(session.baseAllocationID == nil, "LIST does not select a context")
        #expect(session.flags.contains(.hasFlags) && session.flags.contains(.sendDF))
        let replies = try #require(parseOptionReplies(d.sent))
        let types = replies.map { "\($0.option):\($0.type)" }
        // STRUCTURED ACK; INFO: export, block size, name, description, ACK; LIST_META: context, ACK; GO: same as INFO.
        #expect(types == ["8:1", "6:3", "6:3", "6:3", "6:3", "6:1", "9:4", "9:1", "7:3", "7:3", "7:3", "7:3", "7:1"])
        var export = ByteReader(replies[1].payload)
        #expect(export.u16() == 0 && export.u64() == 1 << 20 && export.u16() == session.flags.rawValue)
        var block = ByteReader(replies[2].payload)
        #expect(block.u16() == 3 && block.u32() == 512 && block.u32() == 4096 && block.u32() == 32 << 20)
        #expect(replies[3].payload == [0, 1] + Array("vdi".utf8))
        #expect(replies[4].payload == [0, 2] + Array("a test disk".utf8))
        #expect(replies[6].payload == [0, 0, 0, 0] + Array("base:allocation".utf8))
    }

    @Test("SET_META_CONTEXT selects base:allocation among unknown queries; GO carries its id")
    func setMetaContext() throws {
        var m = NBDNegotiation(exports: [testExport])
        let input = Client.flags()
            + Client.option(.structuredReply)
            + Client.option(.setMetaContext, Client.metaData("vdi", ["qemu:dirty-bitmap:x", "base:allocation", "other:y"]))
            + Client.option(.go, Client.infoData("vdi", [3]))
        let d = drive(&m, input)
        let session = try #require(d.session)
        #expect(session.baseAllocationID == NBDMetaContext.baseAllocationID)
        let replies = try #require(parseOptionReplies(d.sent))
        let meta = replies.filter { $0.option == 10 }
        #expect(meta.map(\.type) == [4, 1])
        #expect(meta[0].payload == [0, 0, 0, 1] + Array("base:allocation".utf8))
    }

    @Test("SET_META_CONTEXT replaces the selection; an empty query list clears it")
    func setMetaContextReplaces() throws {
        var m = NBDNegotiation(exports: [testExport])
        let input = Client.flags() + Client.option(.structuredReply)
            + Client.option(.setMetaContext, Client.metaData("vdi", ["base:allocation"]))
            + Client.option(.setMetaContext, Client.metaData("vdi", []))
            + Client.option(.go, Client.infoData("vdi", []))
        let session = try #require(drive(&m, input).session)
        #expect(session.baseAllocationID == nil)
    }

    @Test("a selection made for another export does not apply")
    func metaContextOtherExport() throws {
        var m = NBDNegotiation(exports: [testExport, otherExport])
        let input = Client.flags() + Client.option(.structuredReply)
            + Client.option(.setMetaContext, Client.metaData("snap", ["base:allocation"]))
            + Client.option(.go, Client.infoData("vdi", []))
        let session = try #require(drive(&m, input).session)
        #expect(session.baseAllocationID == nil)
    }

    @Test("SET_META_CONTEXT before STRUCTURED_REPLY is ERR_INVALID")
    func setMetaWithoutStructured() throws {
        var m = NBDNegotiation(exports: [testExport])
        let d = drive(&m, Client.flags() + Client.option(.setMetaContext, Client.metaData("vdi", ["base:allocation"])))
        let replies = try #require(parseOptionReplies(d.sent))
        #expect(replies.map(\.type) == [NBDOptionReply.errInvalid.rawValue])
    }

    @Test("LIST_META_CONTEXT: the base: wildcard lists base:allocation")
    func listMetaWildcard() throws {
        var m = NBDNegotiation(exports: [testExport])
        let d = drive(&m, Client.flags() + Client.option(.listMetaContext, Client.metaData("", ["base:"])))
        let replies = try #require(parseOptionReplies(d.sent))
        #expect(replies.map(\.type) == [4, 1])
    }

    @Test("unknown options, STARTTLS and EXTENDED_HEADERS get ERR_UNSUP after their data; the next option works",
          arguments: [false, true])
    func unknownOptions(byteByByte: Bool) throws {
        var m = NBDNegotiation(exports: [testExport])
        let input = Client.flags()
            + Client.option(11)
            + Client.option(5)
            + Client.option(0x1234, Array(repeating: 0x49, count: 100)) // data that looks like IHAVEOPT
            + Client.option(.structuredReply)
            + Client.option(.go, Client.infoData("", []))
        let d = drive(&m, input, byteByByte: byteByByte)
        let replies = try #require(parseOptionReplies(d.sent))
        #expect(replies.prefix(4).map(\.type) == [0x8000_0001, 0x8000_0001, 0x8000_0001, 1])
        #expect(replies[2].option == 0x1234)
        #expect(d.session?.structuredReplies == true)
    }

    @Test("an option larger than the limit is skipped and answered ERR_TOO_BIG")
    func tooBigOption() throws {
        var m = NBDNegotiation(exports: [testExport])
        let big = Array(repeating: UInt8(7), count: NBDLimits.optionBytesMax + 1)
        let input = Client.flags() + Client.option(.info, big) + Client.option(.go, Client.infoData("vdi", []))
        let d = drive(&m, input)
        let replies = try #require(parseOptionReplies(d.sent))
        #expect(replies.first?.type == NBDOptionReply.errTooBig.rawValue)
        #expect(d.session != nil)
    }

    @Test("malformed INFO/GO data is ERR_INVALID, an unknown name ERR_UNKNOWN")
    func malformedInfo() throws {
        var m = NBDNegotiation(exports: [testExport])
        var bad = Client.infoData("vdi", [3])
        bad[3] = 200 // name length beyond the data
        let input = Client.flags()
            + Client.option(.go, bad)
            + Client.option(.go, Client.infoData("vdi", [3]) + [0]) // a stray byte
            + Client.option(.go, Client.infoData("nope", []))
        let d = drive(&m, input)
        let replies = try #require(parseOptionReplies(d.sent))
        #expect(replies.map(\.type) == [0x8000_0003, 0x8000_0003, 0x8000_0006])
        #expect(d.session == nil && d.closed == nil)
    }

    @Test("LIST sends one SERVER per export then ACK; LIST with data is ERR_INVALID")
    func list() throws {
        var m = NBDNegotiation(exports: [testExport, otherExport])
        let d = drive(&m, Client.flags() + Client.option(.list) + Client.option(.list, [1]))
        let replies = try #require(parseOptionReplies(d.sent))
        #expect(replies.map(\.type) == [2, 2, 1, 0x8000_0003])
        #expect(replies[0].payload == [0, 0, 0, 3] + Array("vdi".utf8) + Array("a test disk".utf8))
    }

    @Test("ABORT is acknowledged, then the connection closes")
    func abort() throws {
        var m = NBDNegotiation(exports: [testExport])
        let d = drive(&m, Client.flags() + Client.option(.abort))
        #expect(try #require(parseOptionReplies(d.sent)).map(\.type) == [1])
        #expect(d.closed != nil)
    }

    @Test("EXPORT_NAME: size, flags and 124 zero bytes unless NO_ZEROES", arguments: [UInt32(1), UInt32(3)])
    func exportName(clientFlags: UInt32) throws {
        var m = NBDNegotiation(exports: [testExport])
        let d = drive(&m, Client.flags(clientFlags) + Client.option(.exportName, Array("vdi".utf8)))
        let session = try #require(d.session)
        #expect(d.sent.count == 10 + (clientFlags & 2 == 0 ? 124 : 0))
        var r = ByteReader(d.sent)
        #expect(r.u64() == 1 << 20 && r.u16() == session.flags.rawValue)
        #expect(!session.flags.contains(.sendDF), "DF needs structured replies")
    }

    @Test("EXPORT_NAME of an unknown export closes the connection")
    func exportNameUnknown() {
        var m = NBDNegotiation(exports: [testExport])
        #expect(drive(&m, Client.flags() + Client.option(.exportName, Array("x".utf8))).closed != nil)
    }

    @Test("a read-only export says so; the empty name means the first export")
    func readOnlyDefault() throws {
        var m = NBDNegotiation(exports: [otherExport, testExport])
        let session = try #require(drive(&m, Client.flags() + Client.option(.go, Client.infoData("", []))).session)
        #expect(session.export.name == "snap" && session.flags.contains(.readOnly))
    }

    @Test("the option count is bounded")
    func optionCountBounded() {
        var m = NBDNegotiation(exports: [testExport])
        var input = Client.flags()
        for _ in 0...NBDLimits.optionCountMax { input += Client.option(.structuredReply) }
        #expect(drive(&m, input).closed != nil)
    }
}
