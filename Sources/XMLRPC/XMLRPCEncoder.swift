/// Writes XML-RPC documents the way Python's xmlrpc.client does (what SM prints and XAPI
/// parses): `<?xml version='1.0'?>`, typed values, `<nil/>` for unit results.
public enum XMLRPCEncoder {
    public static func encode(_ message: XMLRPCMessage) -> String {
        var out = "<?xml version='1.0'?>\n"
        switch message {
        case let .call(method, params):
            out += "<methodCall>\n<methodName>\(escape(method))</methodName>\n<params>\n"
            for param in params { out += "<param>\n" + value(param) + "</param>\n" }
            out += "</params>\n</methodCall>\n"
        case let .response(result):
            out += "<methodResponse>\n<params>\n<param>\n" + value(result) + "</param>\n</params>\n</methodResponse>\n"
        case let .fault(code, string):
            out += "<methodResponse>\n<fault>\n"
                + value(.structure([("faultCode", .int(code)), ("faultString", .string(string))]))
                + "</fault>\n</methodResponse>\n"
        }
        return out
    }

    static func value(_ v: XMLRPCValue) -> String {
        switch v {
        case let .string(text): "<value><string>\(escape(text))</string></value>\n"
        case let .int(number): "<value><int>\(number)</int></value>\n"
        case let .bool(flag): "<value><boolean>\(flag ? 1 : 0)</boolean></value>\n"
        case let .double(number): "<value><double>\(number)</double></value>\n"
        case let .base64(bytes): "<value><base64>\n\(Base64.encode(bytes))\n</base64></value>\n"
        case let .dateTime(text): "<value><dateTime.iso8601>\(escape(text))</dateTime.iso8601></value>\n"
        case .nil: "<value><nil/></value>\n"
        case let .array(items):
            "<value><array><data>\n" + items.map(value).joined() + "</data></array></value>\n"
        case let .structure(members):
            "<value><struct>\n" + members.map { "<member>\n<name>\(escape($0.0))</name>\n" + value($0.1) + "</member>\n" }.joined()
                + "</struct></value>\n"
        }
    }

    /// XML text escaping for element content.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(ch)
            }
        }
        return out
    }
}
