/// A request that passed validation, in the server's terms.
public struct NBDValidatedRequest: Equatable, Sendable {
    public var command: NBDCommand
    public var flags: NBDCommandFlags
    public var cookie: UInt64
    public var offset: UInt64
    public var length: UInt32

    public var fua: Bool { flags.contains(.fua) }
}

/// What to do with one request header.
public enum NBDRequestVerdict: Equatable, Sendable {
    /// Serve it; a WRITE's payload follows.
    case accept(NBDValidatedRequest)
    /// Reply `error` to `cookie`; skip `discard` payload bytes first.
    case reject(cookie: UInt64, command: NBDCommand?, error: NBDError, discard: Int)
    /// NBD_CMD_DISC: no reply, drain and close.
    case disconnect
}

/// Checks a request against the session: known command and flags, advertised features,
/// range, alignment and payload size. Pure: the server maps the verdict to actions.
public enum NBDRequestValidation {
    /// Flags each command may carry, before checking what was advertised.
    static func allowedFlags(_ command: NBDCommand) -> NBDCommandFlags {
        switch command {
        case .read: [.fua, .dontFragment]
        case .writeZeroes: [.fua, .noHole, .fastZero]
        case .blockStatus: [.fua, .reqOne]
        default: [.fua]
        }
    }

    public static func validate(_ header: NBDRequestHeader, session: NBDSession) -> NBDRequestVerdict {
        validate(header, context: NBDTransmissionContext(session))
    }

    public static func validate(_ header: NBDRequestHeader, context: NBDTransmissionContext) -> NBDRequestVerdict {
        let cookie = header.cookie
        guard let command = NBDCommand(rawValue: header.type) else {
            return .reject(cookie: cookie, command: nil, error: .invalid, discard: 0)
        }
        if command == .disconnect { return .disconnect }
        let payload = command == .write ? Int(header.length) : 0
        func reject(_ error: NBDError) -> NBDRequestVerdict {
            .reject(cookie: cookie, command: command, error: error, discard: payload)
        }
        let flags = NBDCommandFlags(rawValue: header.flags)
        let tflags = context.flags
        if !flags.subtracting(allowedFlags(command)).isEmpty { return reject(.invalid) }
        if flags.contains(.fua) && !tflags.contains(.sendFUA) { return reject(.invalid) }
        if flags.contains(.dontFragment) && !tflags.contains(.sendDF) { return reject(.invalid) }
        if flags.contains(.fastZero) && !tflags.contains(.sendFastZero) { return reject(.invalid) }

        switch command {
        case .write, .trim, .writeZeroes:
            if tflags.contains(.readOnly) { return reject(.permission) }
        default: break
        }
        switch command {
        case .flush:
            if !tflags.contains(.sendFlush) { return reject(.invalid) }
        case .trim:
            if !tflags.contains(.sendTrim) { return reject(.invalid) }
        case .writeZeroes:
            if !tflags.contains(.sendWriteZeroes) { return reject(.invalid) }
        case .cache:
            if !tflags.contains(.sendCache) { return reject(.invalid) }
        case .blockStatus:
            if context.baseAllocationID == nil || header.length == 0 { return reject(.invalid) }
        default: break
        }
        if command == .read || command == .write, header.length > context.maximumPayload {
            return reject(command == .read && flags.contains(.dontFragment) ? .overflow : .invalid)
        }
        if command != .flush {
            let (end, overflow) = header.offset.addingReportingOverflow(UInt64(header.length))
            if overflow || end > context.size {
                // Writing past the end is "no space"; reading or trimming there is invalid.
                return reject(command == .write || command == .writeZeroes ? .noSpace : .invalid)
            }
            let mask = UInt64(context.minimumBlock - 1)
            if command != .blockStatus && (header.offset & mask != 0 || UInt64(header.length) & mask != 0) {
                return reject(.invalid)
            }
        }
        return .accept(NBDValidatedRequest(command: command, flags: flags, cookie: cookie,
                                           offset: header.offset, length: header.length))
    }
}

/// The parts of a session that request handling reads, without strings: copying it costs
/// nothing per request.
public struct NBDTransmissionContext: Sendable, Equatable {
    public var size: UInt64
    public var flags: NBDTransmissionFlags
    public var minimumBlock: UInt32
    public var maximumPayload: UInt32
    public var structuredReplies: Bool
    public var baseAllocationID: UInt32?

    public init(_ session: NBDSession) {
        size = session.export.size
        flags = session.flags
        minimumBlock = session.export.minimumBlock
        maximumPayload = session.export.maximumPayload
        structuredReplies = session.structuredReplies
        baseAllocationID = session.baseAllocationID
    }
}
