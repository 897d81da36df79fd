/// The three messages of XML-RPC: a call, a successful response, a fault.
public enum XMLRPCMessage: Equatable, Sendable {
    case call(method: String, params: [XMLRPCValue])
    case response(XMLRPCValue)
    case fault(code: Int, string: String)
}

/// Why a document is not a valid XML-RPC message; names where it went wrong.
public enum XMLRPCError: Error, Equatable, CustomStringConvertible {
    case notXML(line: Int, column: Int, reason: String)
    case malformed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notXML(line, column, reason): "not well-formed XML at line \(line), column \(column): \(reason)"
        case let .malformed(path, reason): "not an XML-RPC message at \(path): \(reason)"
        }
    }
}
