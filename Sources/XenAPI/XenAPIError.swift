/// Why a XenAPI call did not return a value; each case names the endpoint or method at fault.
public enum XenAPIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The endpoint setting cannot be used.
    case badEndpoint(String, reason: String)
    /// No connection could be made (no socket, refused, no route); `errno` from connect(2).
    case unreachable(endpoint: String, errno: Int32, detail: String)
    /// The call did not complete within its time limit.
    case timeout(endpoint: String, method: String, seconds: Double)
    /// The connection failed or closed before a whole response arrived.
    case connectionLost(endpoint: String, method: String, detail: String)
    /// The server answered with an HTTP status other than 200.
    case http(endpoint: String, method: String, status: Int, reason: String)
    /// The reply is not HTTP, not XML-RPC, or not XenAPI's `{Status, Value}` struct.
    case malformedResponse(method: String, detail: String)
    /// An XML-RPC fault (XAPI answers this only for calls it cannot parse or dispatch).
    case fault(method: String, code: Int, string: String)
    /// XenAPI's `{Status: Failure, ErrorDescription: [code, params...]}`.
    case failure(method: String, description: [String])
    /// A header value would break the request (CR or LF in it).
    case badHeader(name: String, value: String)

    /// XenAPI's error code (`HANDLE_INVALID`, `UUID_INVALID`, ...) of a Failure.
    public var failureCode: String? {
        if case let .failure(_, description) = self { return description.first }
        return nil
    }

    /// True when the endpoint itself is at fault (not one call): further calls would fail
    /// the same way, each after its own timeout, so callers stop trying.
    public var isTransport: Bool {
        switch self {
        case .badEndpoint, .unreachable, .timeout, .connectionLost, .http: true
        case .malformedResponse, .fault, .failure, .badHeader: false
        }
    }

    public var description: String {
        switch self {
        case let .badEndpoint(text, reason): "bad XenAPI endpoint '\(text)': \(reason)"
        case let .unreachable(endpoint, errno, detail): "cannot connect to \(endpoint): \(detail) (errno \(errno))"
        case let .timeout(endpoint, method, seconds): "\(method) on \(endpoint) did not complete within \(seconds) s"
        case let .connectionLost(endpoint, method, detail): "\(method) on \(endpoint): connection lost: \(detail)"
        case let .http(endpoint, method, status, reason): "\(method) on \(endpoint): HTTP \(status) \(reason)"
        case let .malformedResponse(method, detail): "\(method): malformed response: \(detail)"
        case let .fault(method, code, string): "\(method): XML-RPC fault \(code): \(string)"
        case let .failure(method, description): "\(method) failed: \(description.joined(separator: " "))"
        case let .badHeader(name, value): "header \(name) cannot carry '\(value)' (CR or LF)"
        }
    }
}
