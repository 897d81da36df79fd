import XMLRPC

/// A XenAPI session over XML-RPC: each call is an HTTP POST of `<method>(session, params...)`
/// whose `{Status, Value}` answer becomes a value or a typed error.
///
/// The plugin never logs in: XAPI hands it a session (`session_ref`) made for the one SR
/// operation, and `subtask_of` (the task this work belongs to) travels as the `Subtask-of`
/// header, as SM sends it.
public final class XenAPIClient {
    /// XAPI answers database calls in milliseconds; a call still running after this is
    /// abandoned so a wedged toolstack cannot hang the plugin.
    public static let defaultTimeoutSeconds = 10.0

    public let endpoint: XenAPIEndpoint
    public let sessionRef: String
    public let subtaskOf: String?
    private let transport: HTTPTransport

    public init(endpoint: XenAPIEndpoint, sessionRef: String, subtaskOf: String? = nil,
                timeoutSeconds: Double = XenAPIClient.defaultTimeoutSeconds) throws(XenAPIError) {
        if let subtaskOf, subtaskOf.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw .badHeader(name: "Subtask-of", value: subtaskOf)
        }
        self.endpoint = endpoint
        self.sessionRef = sessionRef
        self.subtaskOf = subtaskOf.flatMap { $0.isEmpty ? nil : $0 }
        transport = HTTPTransport(endpoint: endpoint, timeoutSeconds: timeoutSeconds)
    }

    /// Calls `method` with the session first, then `params`; the Value of a Success.
    @discardableResult
    public func call(_ method: String, _ params: [XMLRPCValue]) throws(XenAPIError) -> XMLRPCValue {
        let body = XMLRPCEncoder.encode(.call(method: method, params: [.string(sessionRef)] + params))
        let headers = subtaskOf.map { [("Subtask-of", $0)] } ?? []
        let response = try transport.post(Array(body.utf8), headers: headers, method: method)
        guard response.status == 200 else {
            throw .http(endpoint: "\(endpoint)", method: method, status: response.status, reason: response.reason)
        }
        let message: XMLRPCMessage
        do {
            message = try XMLRPCDecoder.decode(String(decoding: response.body, as: UTF8.self))
        } catch {
            throw .malformedResponse(method: method, detail: "\(error)")
        }
        return try XenAPIResult.value(of: message, method: method)
    }

    /// A call whose Value is a reference (or any string).
    func string(_ method: String, _ params: [XMLRPCValue]) throws(XenAPIError) -> String {
        let value = try call(method, params)
        guard let text = value.stringValue else {
            throw .malformedResponse(method: method, detail: "expected a string Value, got \(value)")
        }
        return text
    }
}
