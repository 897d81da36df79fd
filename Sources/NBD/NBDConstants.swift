/// The NBD wire vocabulary (NetworkBlockDevice `doc/proto.md`): magics, option and reply
/// codes, flags and errors. Every integer on the wire is big-endian.
public enum NBDMagic {
    /// "NBDMAGIC": the first eight bytes the server sends.
    public static let server: UInt64 = 0x4E42_444D_4147_4943
    /// "IHAVEOPT": opens the newstyle greeting and every option the client sends.
    public static let option: UInt64 = 0x4948_4156_454F_5054
    /// Opens every option reply.
    public static let optionReply: UInt64 = 0x0003_e889_0455_65a9
    public static let request: UInt32 = 0x2560_9513
    public static let simpleReply: UInt32 = 0x6744_6698
    public static let structuredReply: UInt32 = 0x668e_33ef
}

/// Handshake flags the server sends after its magics.
public struct NBDHandshakeFlags: OptionSet, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let fixedNewstyle = NBDHandshakeFlags(rawValue: 1 << 0)
    public static let noZeroes = NBDHandshakeFlags(rawValue: 1 << 1)
}

/// Flags the client answers the greeting with; any other bit means "drop the connection".
public struct NBDClientFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let fixedNewstyle = NBDClientFlags(rawValue: 1 << 0)
    public static let noZeroes = NBDClientFlags(rawValue: 1 << 1)
    public static let known: NBDClientFlags = [.fixedNewstyle, .noZeroes]
}

/// Options a client may send during negotiation.
public enum NBDOption: UInt32, Sendable {
    case exportName = 1
    case abort = 2
    case list = 3
    case startTLS = 5
    case info = 6
    case go = 7
    case structuredReply = 8
    case listMetaContext = 9
    case setMetaContext = 10
    case extendedHeaders = 11
}

/// Option reply types; errors have bit 31 set.
public enum NBDOptionReply: UInt32, Sendable {
    case ack = 1
    case server = 2
    case info = 3
    case metaContext = 4
    case errUnsupported = 0x8000_0001
    case errPolicy = 0x8000_0002
    case errInvalid = 0x8000_0003
    case errPlatform = 0x8000_0004
    case errTLSRequired = 0x8000_0005
    case errUnknown = 0x8000_0006
    case errShutdown = 0x8000_0007
    case errBlockSizeRequired = 0x8000_0008
    case errTooBig = 0x8000_0009
}

/// Information types inside an `NBD_REP_INFO` reply (and requested by INFO/GO).
public enum NBDInfoType: UInt16, Sendable {
    case export = 0
    case name = 1
    case description = 2
    case blockSize = 3
}

/// Transmission flags: what the export supports, sent with its size.
public struct NBDTransmissionFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let hasFlags = NBDTransmissionFlags(rawValue: 0x0001)
    public static let readOnly = NBDTransmissionFlags(rawValue: 0x0002)
    public static let sendFlush = NBDTransmissionFlags(rawValue: 0x0004)
    public static let sendFUA = NBDTransmissionFlags(rawValue: 0x0008)
    public static let rotational = NBDTransmissionFlags(rawValue: 0x0010)
    public static let sendTrim = NBDTransmissionFlags(rawValue: 0x0020)
    public static let sendWriteZeroes = NBDTransmissionFlags(rawValue: 0x0040)
    public static let sendDF = NBDTransmissionFlags(rawValue: 0x0080)
    public static let canMultiConn = NBDTransmissionFlags(rawValue: 0x0100)
    public static let sendResize = NBDTransmissionFlags(rawValue: 0x0200)
    public static let sendCache = NBDTransmissionFlags(rawValue: 0x0400)
    public static let sendFastZero = NBDTransmissionFlags(rawValue: 0x0800)
}

/// Transmission-phase commands (the u16 `type` of a request).
public enum NBDCommand: UInt16, Sendable, CustomStringConvertible {
    case read = 0
    case write = 1
    case disconnect = 2
    case flush = 3
    case trim = 4
    case cache = 5
    case writeZeroes = 6
    case blockStatus = 7

    public var description: String {
        switch self {
        case .read: "READ"
        case .write: "WRITE"
        case .disconnect: "DISC"
        case .flush: "FLUSH"
        case .trim: "TRIM"
        case .cache: "CACHE"
        case .writeZeroes: "WRITE_ZEROES"
        case .blockStatus: "BLOCK_STATUS"
        }
    }
}

/// Per-request command flags (the u16 `flags` of a request).
public struct NBDCommandFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let fua = NBDCommandFlags(rawValue: 0x01)
    public static let noHole = NBDCommandFlags(rawValue: 0x02)
    public static let dontFragment = NBDCommandFlags(rawValue: 0x04)
    public static let reqOne = NBDCommandFlags(rawValue: 0x08)
    public static let fastZero = NBDCommandFlags(rawValue: 0x10)
}

/// The errno values NBD carries; anything else must be mapped to one of these first.
public enum NBDError: UInt32, Sendable, Error, CustomStringConvertible {
    case permission = 1        // EPERM
    case io = 5                // EIO
    case noMemory = 12         // ENOMEM
    case invalid = 22          // EINVAL
    case noSpace = 28          // ENOSPC
    case overflow = 75         // EOVERFLOW
    case notSupported = 95     // ENOTSUP
    case shutdown = 108        // ESHUTDOWN

    public var description: String {
        switch self {
        case .permission: "EPERM"
        case .io: "EIO"
        case .noMemory: "ENOMEM"
        case .invalid: "EINVAL"
        case .noSpace: "ENOSPC"
        case .overflow: "EOVERFLOW"
        case .notSupported: "ENOTSUP"
        case .shutdown: "ESHUTDOWN"
        }
    }
}

/// Structured reply chunk types.
public enum NBDChunkType: UInt16, Sendable {
    case none = 0
    case offsetData = 1
    case offsetHole = 2
    case blockStatus = 5
    case error = 0x8001
    case errorOffset = 0x8002
}

/// Structured reply chunk flags.
public enum NBDChunkFlags {
    /// The last chunk of a reply.
    public static let done: UInt16 = 1
}

/// `base:allocation` extent flags.
public struct NBDBlockState: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Not allocated: a later write may fail with ENOSPC.
    public static let hole = NBDBlockState(rawValue: 1 << 0)
    /// Reads as zeros.
    public static let zero = NBDBlockState(rawValue: 1 << 1)
    /// Allocated data (or unknown): always safe.
    public static let data: NBDBlockState = []
}

/// The one metadata context this server offers.
public enum NBDMetaContext {
    public static let baseAllocation = "base:allocation"
    /// The id the server gives `base:allocation` when a client selects it.
    public static let baseAllocationID: UInt32 = 1
}
