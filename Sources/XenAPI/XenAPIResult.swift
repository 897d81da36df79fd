import XMLRPC

/// XenAPI's result convention: every call answers one struct, `{Status: "Success", Value: v}`
/// or `{Status: "Failure", ErrorDescription: [code, params...]}` (methods without a result
/// answer an empty string as Value).
enum XenAPIResult {
    static func value(of message: XMLRPCMessage, method: String) throws(XenAPIError) -> XMLRPCValue {
        switch message {
        case let .fault(code, string):
            throw .fault(method: method, code: code, string: string)
        case .call:
            throw .malformedResponse(method: method, detail: "a methodCall where a methodResponse belongs")
        case let .response(result):
            switch result["Status"]?.stringValue {
            case "Success":
                return result["Value"] ?? .string("")
            case "Failure":
                guard let items = result["ErrorDescription"]?.arrayValue else {
                    throw .malformedResponse(method: method, detail: "a Failure without an ErrorDescription array")
                }
                throw .failure(method: method, description: items.map { $0.stringValue ?? "\($0)" })
            case let other:
                throw .malformedResponse(method: method, detail: "Status is \(other.map { "'\($0)'" } ?? "missing"), "
                                         + "not Success or Failure")
            }
        }
    }
}
