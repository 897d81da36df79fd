import Glibc

/// One HTTP POST to an endpoint, bounded by a time limit from connect to the last byte.
struct HTTPTransport {
    let endpoint: XenAPIEndpoint
    let timeoutSeconds: Double

    /// Posts `body`; the response whatever its status. `method` names the call in errors.
    func post(_ body: [UInt8], headers: [(String, String)], method: String) throws(XenAPIError) -> HTTPResponse {
        let deadline = Deadline(seconds: timeoutSeconds)
        let socket = try connect(deadline: deadline, method: method)
        let request = HTTPRequest.post(to: endpoint, body: body, headers: headers)
        var parser = HTTPResponseParser()
        do {
            try socket.send(request, by: deadline)
            while true {
                let bytes = try socket.receive(by: deadline)
                try parser.append(bytes)
                if let response = try parser.response(atEOF: bytes.isEmpty) { return response }
            }
        } catch let failure as SocketFailure {
            throw mapped(failure, method: method)
        } catch let error as HTTPParseError {
            throw .malformedResponse(method: method, detail: error.detail)
        } catch {
            throw .connectionLost(endpoint: "\(endpoint)", method: method, detail: "\(error)")
        }
    }

    /// The first address that accepts the connection (a name may resolve to v6 and v4).
    private func connect(deadline: Deadline, method: String) throws(XenAPIError) -> StreamSocket {
        var last = XenAPIError.unreachable(endpoint: "\(endpoint)", errno: 0, detail: "the name resolves to no address")
        for address in try SocketAddress.of(endpoint) {
            do {
                return try StreamSocket.connect(address, by: deadline)
            } catch {
                last = mapped(error, method: method)
                if case .timeout = last { break }
            }
        }
        throw last
    }

    private func mapped(_ failure: SocketFailure, method: String) -> XenAPIError {
        switch failure {
        case let .connect(code):
            .unreachable(endpoint: "\(endpoint)", errno: code, detail: String(cString: strerror(code)))
        case .timedOut:
            .timeout(endpoint: "\(endpoint)", method: method, seconds: timeoutSeconds)
        case let .io(code):
            .connectionLost(endpoint: "\(endpoint)", method: method, detail: String(cString: strerror(code)))
        }
    }
}
