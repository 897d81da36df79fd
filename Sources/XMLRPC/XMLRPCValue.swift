/// An XML-RPC value. Structs keep their members' order, so what is encoded reads like what
/// was built (and tests can compare bytes).
public indirect enum XMLRPCValue: Equatable, Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case double(Double)
    case base64([UInt8])
    case dateTime(String)
    case array([XMLRPCValue])
    case structure([(String, XMLRPCValue)])
    case `nil`

    public static func == (lhs: XMLRPCValue, rhs: XMLRPCValue) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.bool(a), .bool(b)): a == b
        case let (.double(a), .double(b)): a == b
        case let (.base64(a), .base64(b)): a == b
        case let (.dateTime(a), .dateTime(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.structure(a), .structure(b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.nil, .nil): true
        default: false
        }
    }

    /// The member named `key` of a struct.
    public subscript(key: String) -> XMLRPCValue? {
        guard case let .structure(members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var stringValue: String? {
        if case let .string(text) = self { return text }
        return nil
    }

    public var arrayValue: [XMLRPCValue]? {
        if case let .array(items) = self { return items }
        return nil
    }

    /// A struct of strings (device_config, sm_config) as a dictionary; nil if any member is not a string.
    public var stringDictionary: [String: String]? {
        guard case let .structure(members) = self else { return nil }
        var result: [String: String] = [:]
        for (key, value) in members {
            guard let text = value.stringValue else { return nil }
            result[key] = text
        }
        return result
    }
}
