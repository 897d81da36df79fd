import Foundation

/// Reads XML-RPC documents, including XAPI's dialect: a `<value>` without a type element is
/// a string, and `<value/>` is the empty string.
public enum XMLRPCDecoder {
    public static func decode(_ text: String) throws(XMLRPCError) -> XMLRPCMessage {
        try decode(Data(text.utf8))
    }

    public static func decode(_ data: Data) throws(XMLRPCError) -> XMLRPCMessage {
        let root = try ParsedElement.parse(data)
        switch root.name {
        case "methodCall":
            guard let nameElement = root.elements("methodName").first else {
                throw .malformed(path: "methodCall", reason: "no <methodName>")
            }
            let method = nameElement.text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !method.isEmpty else { throw .malformed(path: "methodCall/methodName", reason: "empty method name") }
            return .call(method: method, params: try params(root, path: "methodCall"))
        case "methodResponse":
            if let fault = root.elements("fault").first {
                guard let valueElement = fault.elements("value").first else {
                    throw .malformed(path: "methodResponse/fault", reason: "no <value>")
                }
                let v = try value(valueElement, path: "methodResponse/fault/value")
                guard case let .int(code)? = v["faultCode"], let string = v["faultString"]?.stringValue else {
                    throw .malformed(path: "methodResponse/fault", reason: "faultCode (int) and faultString (string) required")
                }
                return .fault(code: code, string: string)
            }
            let values = try params(root, path: "methodResponse")
            guard values.count == 1 else {
                throw .malformed(path: "methodResponse/params", reason: "expected one <param>, found \(values.count)")
            }
            return .response(values[0])
        default:
            throw .malformed(path: root.name, reason: "the root element must be methodCall or methodResponse")
        }
    }

    private static func params(_ root: ParsedElement, path: String) throws(XMLRPCError) -> [XMLRPCValue] {
        guard let params = root.elements("params").first else { return [] }
        var values: [XMLRPCValue] = []
        for (index, param) in params.elements("param").enumerated() {
            let here = "\(path)/params/param[\(index + 1)]"
            guard let valueElement = param.elements("value").first else { throw .malformed(path: here, reason: "no <value>") }
            values.append(try value(valueElement, path: here + "/value"))
        }
        return values
    }

    static func value(_ element: ParsedElement, path: String) throws(XMLRPCError) -> XMLRPCValue {
        guard let typed = element.children.first else { return .string(element.text) }
        guard element.children.count == 1 else {
            throw .malformed(path: path, reason: "a <value> holds one type element, found \(element.children.count)")
        }
        let text = typed.text
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let here = path + "/" + typed.name
        switch typed.name {
        case "string": return .string(text)
        case "int", "i4", "i8":
            guard let number = Int(trimmed) else { throw .malformed(path: here, reason: "'\(trimmed)' is not an integer") }
            return .int(number)
        case "boolean":
            switch trimmed {
            case "1": return .bool(true)
            case "0": return .bool(false)
            default: throw .malformed(path: here, reason: "'\(trimmed)' is not 0 or 1")
            }
        case "double":
            guard let number = Double(trimmed) else { throw .malformed(path: here, reason: "'\(trimmed)' is not a number") }
            return .double(number)
        case "base64":
            guard let bytes = Base64.decode(text) else { throw .malformed(path: here, reason: "invalid base64") }
            return .base64(bytes)
        case "dateTime.iso8601": return .dateTime(trimmed)
        case "nil": return .nil
        case "array":
            guard let data = typed.elements("data").first else { throw .malformed(path: here, reason: "no <data>") }
            var items: [XMLRPCValue] = []
            for (index, item) in data.elements("value").enumerated() {
                items.append(try value(item, path: "\(here)/data/value[\(index + 1)]"))
            }
            return .array(items)
        case "struct":
            var members: [(String, XMLRPCValue)] = []
            for (index, member) in typed.elements("member").enumerated() {
                let memberPath = "\(here)/member[\(index + 1)]"
                guard let name = member.elements("name").first?.text, let v = member.elements("value").first else {
                    throw .malformed(path: memberPath, reason: "a member needs <name> and <value>")
                }
                members.append((name, try value(v, path: "\(memberPath)/value")))
            }
            return .structure(members)
        default:
            throw .malformed(path: here, reason: "unknown type <\(typed.name)>")
        }
    }
}
