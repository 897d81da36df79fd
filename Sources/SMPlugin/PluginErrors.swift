import SMErrors

/// The plugin's own refusals, with the SM codes XAPI understands.
///
/// Everything the engine throws goes through `SMErrorTable`; these are the failures that
/// happen before the engine is reached (the call itself is wrong) or that only a front end
/// speaking SMAPIv1 can have (a command it does not know, a slave asked for master work).
public enum PluginError: SMErrorConvertible, Equatable, Sendable {
    /// argv is not exactly one XML-RPC methodCall of the shape XAPI sends (SM: BadRequest).
    case badRequest(String)
    /// A command this driver does not implement: XAPI maps 38 to Not_implemented_in_backend.
    case unimplemented(command: String)
    /// A field of the call holds a character XML 1.0 cannot carry.
    case illegalXMLChar(field: String, scalar: UInt32)
    /// The executable was invoked under a name that is not `<Name>SR` for a known SR type.
    case unknownDriverName(String)
    /// A command XenServer runs only on the SR master, sent with `SRmaster` not `true`.
    case notMaster(command: String)

    public var smError: SMError {
        switch self {
        case let .badRequest(detail):
            SMErrorTable.sm("BadRequest", 143, "Bad request", detail)
        case let .unimplemented(command):
            SMErrorTable.sm("Unimplemented", 38, "The requested method is not supported/implemented",
                            "command '\(command)' is not implemented by this driver")
        case let .illegalXMLChar(field, scalar):
            SMErrorTable.sm("IllegalXMLChar", 447, "Illegal XML character",
                            "\(field) contains U+\(Self.hex(scalar)), a character XML cannot carry")
        case let .unknownDriverName(name):
            SMErrorTable.sm("InvalidArg", 1, "Invalid argument",
                            "invoked as '\(name)': the plugin must be run through a link named <Name>SR "
                                + "for a known SR type (e.g. FileSR)")
        case let .notMaster(command):
            SMErrorTable.sm("SMGeneral", 202, "General backend error",
                            "\(command) runs only on the SR master, and device_config has SRmaster other than 'true'")
        }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
