import NBD
import Testing

private let session = NBDSession(export: testExport, flags: testExport.flags, structuredReplies: true,
                                 baseAllocationID: 1)

private func verdict(_ h: NBDRequestHeader, _ s: NBDSession = session) -> NBDRequestVerdict {
    NBDRequestValidation.validate(h, session: s)
}

@Suite("NBD transmission: framing, validation, replies")
struct TransmissionTests {
    @Test("header layout is u16 flags | u16 type (not u32 type)")
    func headerLayout() throws {
        let h = NBDRequestHeader(.blockStatus, flags: .reqOne, cookie: 0x0102030405060708, offset: 512, length: 4096)
        let bytes = h.encoded
        #expect(bytes.count == 28)
        #expect(Array(bytes[0..<8]) == [0x25, 0x60, 0x95, 0x13, 0x00, 0x08, 0x00, 0x07])
        let decoded = bytes.withUnsafeBytes { NBDRequestHeader.decode($0.baseAddress!) }
        #expect(decoded == h)
    }

    @Test("framer: headers and payloads survive any split of the stream", arguments: [1, 3, 27, 28, 29, 1000])
    func framerSplits(chunk: Int) {
        var stream: [UInt8] = []
        stream += NBDRequestHeader(.write, cookie: 1, offset: 0, length: 100).encoded
        stream += (0..<100).map { UInt8($0) }
        stream += NBDRequestHeader(.read, cookie: 2, offset: 512, length: 512).encoded
        stream += NBDRequestHeader(.write, cookie: 3, offset: 0, length: 50).encoded // rejected: discarded
        stream += Array(repeating: 0xEE, count: 50)
        stream += NBDRequestHeader(.flush, cookie: 4).encoded
        var framer = NBDRequestFramer()
        var cookies: [UInt64] = []
        var payload: [UInt8] = []
        var position = 0
        var steps = 0
        while position < stream.count && steps < 10_000 {
            steps += 1
            let end = min(stream.count, position + chunk)
            var local = position
            stream[position..<end].withUnsafeBytes { input in
                var offset = 0
                loop: while true {
                    let (event, used) = framer.next(UnsafeRawBufferPointer(rebasing: input[offset...]))
                    offset += used
                    switch event {
                    case .needMore: break loop
                    case .badMagic: Issue.record("bad magic"); break loop
                    case let .request(h):
                        cookies.append(h.cookie)
                        if h.cookie == 1 { framer.expectPayload(Int(h.length)) }
                        if h.cookie == 3 { framer.discardPayload(Int(h.length)) }
                    case let .payload(slice, _):
                        payload += Array(slice)
                    }
                }
                local += offset
            }
            position = local
        }
        #expect(cookies == [1, 2, 3, 4])
        #expect(payload == (0..<100).map { UInt8($0) })
        #expect(framer.isBetweenRequests)
    }

    @Test("framer: a bad magic is reported and sticks")
    func framerBadMagic() {
        var framer = NBDRequestFramer()
        var bytes = NBDRequestHeader(.read, cookie: 1, length: 512).encoded
        bytes[0] = 0
        let first = bytes.withUnsafeBytes { framer.next($0) }
        guard case .badMagic = first.event else { Issue.record("expected badMagic"); return }
        let again = bytes.withUnsafeBytes { framer.next($0) }
        guard case .badMagic = again.event else { Issue.record("expected badMagic again"); return }
    }

    @Test("validation: every rule", arguments: [
        (NBDRequestHeader(.read, cookie: 1, offset: 0, length: 4096), nil as NBDError?),
        (NBDRequestHeader(.read, cookie: 1, offset: (1 << 20) - 512, length: 1024), .invalid),
        (NBDRequestHeader(.read, cookie: 1, offset: UInt64.max - 100, length: 512), .invalid),
        (NBDRequestHeader(.read, cookie: 1, offset: 100, length: 512), .invalid),
        (NBDRequestHeader(.read, cookie: 1, offset: 0, length: 100), .invalid),
        (NBDRequestHeader(.read, cookie: 1, offset: 0, length: (32 << 20) + 512), .invalid),
        (NBDRequestHeader(.read, flags: .dontFragment, cookie: 1, offset: 0, length: 4096), nil),
        (NBDRequestHeader(.read, flags: .noHole, cookie: 1, offset: 0, length: 4096), .invalid),
        (NBDRequestHeader(flags: 0x40, type: 0, cookie: 1, offset: 0, length: 512), .invalid),
        (NBDRequestHeader(type: 99, cookie: 1), .invalid),
        (NBDRequestHeader(.write, cookie: 1, offset: (1 << 20) - 512, length: 1024), .noSpace),
        (NBDRequestHeader(.write, flags: .fua, cookie: 1, offset: 0, length: 512), nil),
        (NBDRequestHeader(.writeZeroes, flags: [.noHole, .fastZero], cookie: 1, offset: 0, length: 1 << 20), nil),
        (NBDRequestHeader(.writeZeroes, cookie: 1, offset: 1 << 20, length: 512), .noSpace),
        (NBDRequestHeader(.trim, cookie: 1, offset: 1 << 20, length: 512), .invalid),
        (NBDRequestHeader(.trim, cookie: 1, offset: 0, length: 1 << 20), nil),
        (NBDRequestHeader(.flush, cookie: 1), nil),
        (NBDRequestHeader(.cache, cookie: 1, offset: 0, length: 4096), nil),
        (NBDRequestHeader(.blockStatus, flags: .reqOne, cookie: 1, offset: 0, length: 1 << 20), nil),
        (NBDRequestHeader(.blockStatus, cookie: 1, offset: 0, length: 0), .invalid),
        (NBDRequestHeader(.blockStatus, flags: .noHole, cookie: 1, offset: 0, length: 512), .invalid),
    ])
    func validation(header: NBDRequestHeader, expected: NBDError?) {
        switch verdict(header) {
        case let .accept(r):
            #expect(expected == nil, "accepted, expected \(String(describing: expected))")
            #expect(r.cookie == header.cookie && r.offset == header.offset && r.length == header.length)
        case let .reject(cookie, _, error, discard):
            #expect(error == expected)
            #expect(cookie == header.cookie)
            #expect(discard == (header.type == NBDCommand.write.rawValue ? Int(header.length) : 0))
        case .disconnect:
            Issue.record("unexpected disconnect")
        }
    }

    @Test("validation: read-only export refuses writes, trims and zeroes with EPERM")
    func readOnly() {
        var s = session
        s.flags.insert(.readOnly)
        for command in [NBDCommand.write, .trim, .writeZeroes] {
            #expect(verdict(NBDRequestHeader(command, cookie: 9, offset: 0, length: 512), s)
                    == .reject(cookie: 9, command: command, error: .permission, discard: command == .write ? 512 : 0))
        }
        #expect(verdict(NBDRequestHeader(.read, cookie: 9, offset: 0, length: 512), s) != .reject(cookie: 9, command: .read, error: .permission, discard: 0))
    }

    @Test("validation: features not advertised are EINVAL; DISC disconnects")
    func unadvertised() {
        let bare = NBDSession(export: testExport, flags: [.hasFlags], structuredReplies: false, baseAllocationID: nil)
        for (h, command) in [(NBDRequestHeader(.flush, cookie: 1), NBDCommand.flush),
                             (NBDRequestHeader(.trim, cookie: 1, length: 512), .trim),
                             (NBDRequestHeader(.writeZeroes, cookie: 1, length: 512), .writeZeroes),
                             (NBDRequestHeader(.cache, cookie: 1, length: 512), .cache),
                             (NBDRequestHeader(.blockStatus, cookie: 1, length: 512), .blockStatus),
                             (NBDRequestHeader(.write, flags: .fua, cookie: 1, length: 512), .write),
                             (NBDRequestHeader(.read, flags: .dontFragment, cookie: 1, length: 512), .read)] {
            #expect(verdict(h, bare) == .reject(cookie: 1, command: command, error: .invalid,
                                                discard: command == .write ? 512 : 0))
        }
        #expect(verdict(NBDRequestHeader(.disconnect, cookie: 1), bare) == .disconnect)
    }

    @Test("reply encoders write the documented bytes")
    func replyBytes() {
        var buffer = [UInt8](repeating: 0xFF, count: 64)
        buffer.withUnsafeMutableBytes { p in
            #expect(NBDReplyEncoding.simple(into: p.baseAddress!, cookie: 0x1122, error: .noSpace) == 16)
        }
        #expect(Array(buffer[0..<16]) == [0x67, 0x44, 0x66, 0x98, 0, 0, 0, 28, 0, 0, 0, 0, 0, 0, 0x11, 0x22])
        buffer.withUnsafeMutableBytes { p in
            #expect(NBDReplyEncoding.offsetData(into: p.baseAddress!, cookie: 7, offset: 4096, dataLength: 512, done: true) == 28)
        }
        #expect(Array(buffer[0..<28]) == [0x66, 0x8e, 0x33, 0xef, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7,
                                          0, 0, 2, 8, 0, 0, 0, 0, 0, 0, 0x10, 0])
        buffer.withUnsafeMutableBytes { p in
            #expect(NBDReplyEncoding.errorChunk(into: p.baseAddress!, cookie: 7, error: .io) == 26)
        }
        #expect(Array(buffer[0..<26]) == [0x66, 0x8e, 0x33, 0xef, 0, 1, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 7,
                                          0, 0, 0, 6, 0, 0, 0, 5, 0, 0])
        buffer.withUnsafeMutableBytes { p in
            #expect(NBDReplyEncoding.offsetHole(into: p.baseAddress!, cookie: 7, offset: 512, size: 1024, done: true) == 32)
        }
        #expect(Array(buffer[4..<8]) == [0, 1, 0, 2])
        #expect(Array(buffer[16..<32]) == [0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 4, 0])
        let extents = [NBDExtent(length: 4096, state: .data), NBDExtent(length: 8192, state: [.hole, .zero])]
        let n = buffer.withUnsafeMutableBytes { p in
            extents.withUnsafeBufferPointer { NBDReplyEncoding.blockStatus(into: p.baseAddress!, cookie: 7, contextID: 1, extents: $0) }
        }
        #expect(n == 40)
        #expect(Array(buffer[4..<8]) == [0, 1, 0, 5])
        #expect(Array(buffer[16..<40]) == [0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 3])
    }

    @Test("block status shaping: merge, drop empty, REQ_ONE clamps to the request")
    func shaping() {
        let runs: [(length: UInt64, state: NBDBlockState)] = [(4096, .data), (0, .zero), (4096, .data), (1 << 20, [.hole, .zero])]
        #expect(NBDBlockStatusShaping.shape(runs, requestLength: 65536, reqOne: false, alignment: 512)
                == [NBDExtent(length: 8192, state: .data), NBDExtent(length: 1 << 20, state: [.hole, .zero])])
        #expect(NBDBlockStatusShaping.shape([(1 << 20, .data)], requestLength: 4096, reqOne: true, alignment: 512)
                == [NBDExtent(length: 4096, state: .data)])
        let huge = NBDBlockStatusShaping.shape([(1 << 33, .data)], requestLength: UInt32.max, reqOne: false, alignment: 512)
        #expect(huge.count == 2 && huge.allSatisfy { $0.length % 512 == 0 })
        #expect(NBDBlockStatusShaping.shape([], requestLength: 512, reqOne: false, alignment: 512).isEmpty)
    }

    @Test("limits relate")
    func limits() {
        #expect(NBDLimits.replyHeaderBytesMax >= NBDLimits.offsetHoleChunkBytes)
        #expect(NBDLimits.replyHeaderBytesMax >= NBDLimits.offsetDataPrefixBytes)
        #expect(NBDLimits.replyHeaderBytesMax >= NBDLimits.errorChunkBytes)
        #expect(NBDLimits.payloadBytesMax >= 1 << 20 && NBDLimits.payloadBytesMax <= Int(UInt32.max))
        #expect(NBDLimits.stringBytesMax * 2 < NBDLimits.optionBytesMax)
        #expect(NBDLimits.preferredBlockBytes <= NBDLimits.payloadBytesMax)
    }
}
