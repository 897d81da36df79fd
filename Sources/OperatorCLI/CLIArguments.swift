import SMErrors
/// An xe-style command line: `COMMAND key=value ... map:key=value ... --flag`.
///
/// Maps are `device-config:`, `sm-config:`, `driver-params:`, `other-config:`; flags are
/// `--json`, `--minimal`, `--registry PATH` (or `--registry=PATH`), `--lock-dir PATH`.
/// The demo also takes `--location DIR` and `--size-mib N`, so flags with values are generic.
public struct CLIArguments: Equatable {
    public var command: String
    public var params: [String: String] = [:]
    public var maps: [String: [String: String]] = [:]
    public var flags: Set<String> = []
    public var flagValues: [String: String] = [:]

    static let flagsWithValues: Set<String> = ["registry", "lock-dir", "location", "size-mib"]
    static let mapNames: Set<String> = ["device-config", "sm-config", "driver-params", "other-config"]

    public init(command: String) { self.command = command }

    public static func parse(_ argv: [String]) throws -> CLIArguments {
        var rest = argv[...]
        var parsed = CLIArguments(command: "")
        var positional: [String] = []
        while let arg = rest.popFirst() {
            if arg.hasPrefix("--") {
                var name = String(arg.dropFirst(2)), value: String?
                if let eq = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                if flagsWithValues.contains(name) {
                    guard let v = value ?? rest.popFirst() else { throw CLIError.usage("--\(name) needs a value") }
                    parsed.flagValues[name] = v
                } else {
                    guard value == nil else { throw CLIError.usage("--\(name) takes no value") }
                    parsed.flags.insert(name)
                }
            } else if let eq = arg.firstIndex(of: "=") {
                let key = String(arg[..<eq]), value = String(arg[arg.index(after: eq)...])
                if let colon = key.firstIndex(of: ":"), mapNames.contains(String(key[..<colon])) {
                    let map = String(key[..<colon]), mapKey = String(key[key.index(after: colon)...])
                    guard !mapKey.isEmpty else { throw CLIError.usage("'\(arg)': empty \(map) key") }
                    parsed.maps[map, default: [:]][mapKey] = value
                } else {
                    guard !key.isEmpty else { throw CLIError.usage("'\(arg)': empty parameter name") }
                    parsed.params[key] = value
                }
            } else {
                positional.append(arg)
            }
        }
        guard let command = positional.first else { throw CLIError.usage("no command given (try: sm-cli help)") }
        guard positional.count == 1 else {
            throw CLIError.usage("unexpected argument '\(positional[1])' (parameters are key=value)")
        }
        parsed.command = command
        return parsed
    }

    public var json: Bool { flags.contains("json") }
    public var minimal: Bool { flags.contains("minimal") }

    /// A required parameter, or a usage error naming it.
    public func required(_ key: String) throws -> String {
        guard let v = params[key], !v.isEmpty else { throw CLIError.missingParameter(key) }
        return v
    }

    public func map(_ name: String) -> [String: String] { maps[name] ?? [:] }
}

/// Errors of the command line itself (not of the engine).
public enum CLIError: Error, Equatable, CustomStringConvertible {
    case usage(String)
    case missingParameter(String)
    case unknownCommand(String)
    case unknownParameter(command: String, key: String)
    /// A command that needs the (local) file system failed outside the engine.
    case file(path: String, detail: String)

    public var description: String {
        switch self {
        case let .usage(text): text
        case let .missingParameter(key): "the parameter '\(key)' is required"
        case let .unknownCommand(c): "unknown command '\(c)' (try: sm-cli help)"
        case let .unknownParameter(command, key): "\(command) does not take the parameter '\(key)'"
        case let .file(path, detail): "\(path): \(detail)"
        }
    }
}

extension CLIError: SMErrorConvertible {
    /// A file the user named is SMGeneral; anything else wrong on the command line is InvalidArg.
    public var smError: SMError {
        switch self {
        case .file: SMErrorTable.sm("SMGeneral", 202, "SM general error", description)
        default: SMErrorTable.sm("InvalidArg", 1, "Invalid argument", description)
        }
    }
}
