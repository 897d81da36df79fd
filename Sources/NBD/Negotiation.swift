/// The fixed-newstyle handshake as a pure state machine: bytes in, actions out, no I/O.
///
/// The connection sends `greeting()` first, then feeds whatever the socket delivers to
/// `receive`. Each call consumes bytes up to the end of the negotiation (the rest belong to
/// the transmission phase) and returns what to do: bytes to send, a close, or the session to
/// start transmitting. Every option's data is read in full, even when the option is unknown
/// or too big, so the stream never desynchronises.
public struct NBDNegotiation {
    public enum Action: Equatable, Sendable {
        case send([UInt8])
        /// Drop the connection (after sending what was queued before it).
        case close(reason: String)
        /// Negotiation is over: serve `session` from the next byte on.
        case transmit(NBDSession)
    }

    enum Phase: Equatable {
        case clientFlags
        case optionHeader
        case optionData(option: UInt32, length: Int)
        case discard(option: UInt32, remaining: Int)
        case finished
    }

    public let exports: [NBDExportDescription]
    private(set) var phase: Phase = .clientFlags
    private var pending: [UInt8] = []
    private var noZeroes = false
    public private(set) var structuredReplies = false
    /// The export name SET_META_CONTEXT last applied to, and whether it selected base:allocation.
    private var metaSelection: (export: String, baseAllocation: Bool)?
    private var optionCount = 0

    /// `exports` are offered by name; the empty name means the first one.
    public init(exports: [NBDExportDescription]) {
        precondition(!exports.isEmpty, "a server needs at least one export")
        self.exports = exports
    }

    public var isFinished: Bool { phase == .finished }

    /// The 18 bytes the server opens with.
    public func greeting() -> [UInt8] {
        OptionReplies.greeting([.fixedNewstyle, .noZeroes])
    }

    /// Consumes bytes of negotiation; returns how many were used and the resulting actions.
    /// After a `.close` or `.transmit` action nothing more is consumed.
    public mutating func receive(_ input: UnsafeRawBufferPointer) -> (consumed: Int, actions: [Action]) {
        var position = 0
        var actions: [Action] = []
        while phase != .finished {
            switch phase {
            case .clientFlags:
                guard fill(to: 4, from: input, &position) else { return (position, actions) }
                let flags = NBDClientFlags(rawValue: takeU32(at: 0))
                pending.removeAll(keepingCapacity: true)
                if !flags.subtracting(.known).isEmpty {
                    finish(&actions, .close(reason: "unknown client flags 0x\(String(flags.rawValue, radix: 16))"))
                } else {
                    noZeroes = flags.contains(.noZeroes)
                    phase = .optionHeader
                }
            case .optionHeader:
                guard fill(to: 16, from: input, &position) else { return (position, actions) }
                let magic = UInt64(takeU32(at: 0)) << 32 | UInt64(takeU32(at: 4))
                let option = takeU32(at: 8)
                let length = Int(takeU32(at: 12))
                pending.removeAll(keepingCapacity: true)
                optionCount += 1
                if magic != NBDMagic.option {
                    finish(&actions, .close(reason: "bad option magic"))
                } else if optionCount > NBDLimits.optionCountMax {
                    finish(&actions, .close(reason: "more than \(NBDLimits.optionCountMax) options"))
                } else if length > NBDLimits.optionBytesMax {
                    phase = .discard(option: option, remaining: length)
                } else if length == 0 {
                    phase = .optionHeader
                    handle(option, [], &actions)
                } else {
                    phase = .optionData(option: option, length: length)
                }
            case let .optionData(option, length):
                guard fill(to: length, from: input, &position) else { return (position, actions) }
                let data = pending
                pending.removeAll(keepingCapacity: true)
                phase = .optionHeader
                handle(option, data, &actions)
            case let .discard(option, remaining):
                let n = min(remaining, input.count - position)
                position += n
                if n < remaining {
                    phase = .discard(option: option, remaining: remaining - n)
                    return (position, actions)
                }
                phase = .optionHeader
                if option == NBDOption.exportName.rawValue {
                    finish(&actions, .close(reason: "export name too long"))
                } else {
                    actions.append(.send(OptionReplies.error(option, .errTooBig, "option data too large")))
                }
            case .finished:
                break
            }
        }
        return (position, actions)
    }

    // MARK: Options

    private mutating func handle(_ option: UInt32, _ data: [UInt8], _ actions: inout [Action]) {
        switch NBDOption(rawValue: option) {
        case .exportName: exportName(data, &actions)
        case .abort:
            actions.append(.send(OptionReplies.reply(option, .ack)))
            finish(&actions, .close(reason: "client aborted negotiation"))
        case .list: list(option, data, &actions)
        case .info, .go: infoOrGo(option, data, &actions)
        case .structuredReply:
            if !data.isEmpty {
                actions.append(.send(OptionReplies.error(option, .errInvalid, "STRUCTURED_REPLY takes no data")))
            } else {
                structuredReplies = true
                actions.append(.send(OptionReplies.reply(option, .ack)))
            }
        case .listMetaContext, .setMetaContext: metaContext(option, data, &actions)
        case .startTLS, .extendedHeaders, nil:
            actions.append(.send(OptionReplies.error(option, .errUnsupported, "option \(option) is not supported")))
        }
    }

    private mutating func exportName(_ data: [UInt8], _ actions: inout [Action]) {
        guard let name = String(validating: data, as: UTF8.self), let export = lookup(name) else {
            finish(&actions, .close(reason: "EXPORT_NAME names no export"))
            return
        }
        let session = makeSession(export, requestedName: name)
        actions.append(.send(OptionReplies.exportName(size: export.size, flags: session.flags, noZeroes: noZeroes)))
        finish(&actions, .transmit(session))
    }

    private func list(_ option: UInt32, _ data: [UInt8], _ actions: inout [Action]) {
        guard data.isEmpty else {
            actions.append(.send(OptionReplies.error(option, .errInvalid, "LIST takes no data")))
            return
        }
        for export in exports {
            actions.append(.send(OptionReplies.server(option, name: export.name, description: export.description)))
        }
        actions.append(.send(OptionReplies.reply(option, .ack)))
    }

    private mutating func infoOrGo(_ option: UInt32, _ data: [UInt8], _ actions: inout [Action]) {
        guard let request = InfoRequest.decode(data) else {
            actions.append(.send(OptionReplies.error(option, .errInvalid, "malformed INFO/GO request")))
            return
        }
        guard let export = lookup(request.exportName) else {
            actions.append(.send(OptionReplies.error(option, .errUnknown, "no export named \"\(request.exportName)\"")))
            return
        }
        let session = makeSession(export, requestedName: request.exportName)
        var out: [UInt8] = OptionReplies.infoExport(option, size: export.size, flags: session.flags)
        // Block sizes are always sent: the minimum is a real constraint of the backend.
        out += OptionReplies.infoBlockSize(option, export)
        if request.infoTypes.contains(NBDInfoType.name.rawValue) {
            out += OptionReplies.infoString(option, .name, export.name)
        }
        if request.infoTypes.contains(NBDInfoType.description.rawValue) && !export.description.isEmpty {
            out += OptionReplies.infoString(option, .description, export.description)
        }
        out += OptionReplies.reply(option, .ack)
        actions.append(.send(out))
        if option == NBDOption.go.rawValue { finish(&actions, .transmit(session)) }
    }

    private mutating func metaContext(_ option: UInt32, _ data: [UInt8], _ actions: inout [Action]) {
        let listing = option == NBDOption.listMetaContext.rawValue
        guard let request = MetaContextRequest.decode(data) else {
            actions.append(.send(OptionReplies.error(option, .errInvalid, "malformed meta context request")))
            return
        }
        if !listing && !structuredReplies {
            actions.append(.send(OptionReplies.error(option, .errInvalid, "SET_META_CONTEXT needs STRUCTURED_REPLY first")))
            return
        }
        guard let export = lookup(request.exportName) else {
            actions.append(.send(OptionReplies.error(option, .errUnknown, "no export named \"\(request.exportName)\"")))
            return
        }
        let offered = export.offersBaseAllocation
        let selected = offered && (listing && request.queries.isEmpty
            || request.queries.contains { MetaContextRequest.matchesBaseAllocation($0, listing: listing) })
        var out: [UInt8] = []
        if selected {
            out += OptionReplies.metaContext(option, id: listing ? 0 : NBDMetaContext.baseAllocationID,
                                             name: NBDMetaContext.baseAllocation)
        }
        out += OptionReplies.reply(option, .ack)
        actions.append(.send(out))
        if !listing { metaSelection = (export.name, selected) }
    }

    // MARK: Helpers

    private func lookup(_ name: String) -> NBDExportDescription? {
        name.isEmpty ? exports.first : exports.first { $0.name == name }
    }

    private func makeSession(_ export: NBDExportDescription, requestedName: String) -> NBDSession {
        var flags = export.flags.union(.hasFlags)
        if !structuredReplies { flags.remove(.sendDF) }
        if !flags.contains(.sendWriteZeroes) { flags.remove(.sendFastZero) }
        let selected = metaSelection.map { $0.export == export.name && $0.baseAllocation } ?? false
        return NBDSession(export: export, flags: flags, structuredReplies: structuredReplies,
                          baseAllocationID: selected && structuredReplies ? NBDMetaContext.baseAllocationID : nil)
    }

    private mutating func finish(_ actions: inout [Action], _ action: Action) {
        actions.append(action)
        phase = .finished
    }

    /// Moves bytes into `pending` until it holds `count`; false when the input ran out first.
    private mutating func fill(to count: Int, from input: UnsafeRawBufferPointer, _ position: inout Int) -> Bool {
        let n = min(count - pending.count, input.count - position)
        if n > 0 {
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[position..<(position + n)]))
            position += n
        }
        return pending.count == count
    }

    private func takeU32(at offset: Int) -> UInt32 {
        pending[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
