/// An HTTP/1.1 response: status, headers (names lowercased), body.
struct HTTPResponse: Equatable {
    var status: Int
    var reason: String
    var headers: [String: String]
    var body: [UInt8]
}

/// The POST that carries one XML-RPC call, as Python's xmlrpc.client sends it to xapi.
enum HTTPRequest {
    static func post(to endpoint: XenAPIEndpoint, body: [UInt8], headers extra: [(String, String)]) -> [UInt8] {
        var head = "POST \(endpoint.requestPath) HTTP/1.1\r\n"
        head += "Host: \(endpoint.hostHeader)\r\n"
        head += "User-Agent: sm-plugin XenAPI client\r\n"
        head += "Content-Type: text/xml\r\n"
        head += "Content-Length: \(body.count)\r\n"
        for (name, value) in extra { head += "\(name): \(value)\r\n" }
        // One call per connection: nothing to keep alive in a short-lived plugin process.
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}

/// Why received bytes are not an HTTP/1.1 response.
struct HTTPParseError: Error, Equatable {
    var detail: String
}

/// Reads an HTTP/1.1 response from bytes as they arrive (no I/O here): the body ends by
/// Content-Length, by chunked encoding, or where the server closes the connection.
struct HTTPResponseParser {
    /// A larger reply is refused rather than buffered (a pool's VDI records fit well within).
    static let responseBytesMax = 64 << 20

    private(set) var buffer: [UInt8] = []

    mutating func append(_ bytes: [UInt8]) throws(HTTPParseError) {
        buffer += bytes
        guard buffer.count <= Self.responseBytesMax else {
            throw HTTPParseError(detail: "response larger than \(Self.responseBytesMax) bytes")
        }
    }

    /// The whole response once it has arrived, else nil; `atEOF` says the server closed.
    func response(atEOF: Bool) throws(HTTPParseError) -> HTTPResponse? {
        guard let headEnd = Self.find([13, 10, 13, 10], in: buffer[...]) else {
            if atEOF { throw HTTPParseError(detail: "connection closed inside the response head") }
            return nil
        }
        var response = try Self.head(String(decoding: buffer[..<headEnd], as: UTF8.self))
        let rest = buffer[(headEnd + 4)...]
        if response.headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            guard let body = try Self.dechunk(rest) else {
                if atEOF { throw HTTPParseError(detail: "connection closed inside a chunked body") }
                return nil
            }
            response.body = body
        } else if let lengthText = response.headers["content-length"] {
            guard let length = Int(lengthText), length >= 0 else {
                throw HTTPParseError(detail: "bad Content-Length '\(lengthText)'")
            }
            guard rest.count >= length else {
                if atEOF { throw HTTPParseError(detail: "connection closed after \(rest.count) of \(length) body bytes") }
                return nil
            }
            response.body = Array(rest.prefix(length))
        } else {
            guard atEOF else { return nil }
            response.body = Array(rest)
        }
        return response
    }

    /// Status line and headers.
    static func head(_ text: String) throws(HTTPParseError) -> HTTPResponse {
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let status = lines[0].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard status.count >= 2, status[0].hasPrefix("HTTP/1."), let code = Int(status[1]), (100...599).contains(code) else {
            throw HTTPParseError(detail: "not an HTTP/1.x status line: '\(lines[0].prefix(80))'")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw HTTPParseError(detail: "header line without ':': '\(line.prefix(80))'") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingSpaces
        }
        return HTTPResponse(status: code, reason: status.count > 2 ? String(status[2]) : "", headers: headers, body: [])
    }

    /// A chunked body, or nil while it is incomplete (trailers are skipped).
    static func dechunk(_ data: ArraySlice<UInt8>) throws(HTTPParseError) -> [UInt8]? {
        var body: [UInt8] = [], at = data.startIndex
        while true {
            guard let lineEnd = find([13, 10], in: data[at...]) else { return nil }
            let sizeText = String(decoding: data[at..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingSpaces, radix: 16), size >= 0 else {
                throw HTTPParseError(detail: "bad chunk size '\(sizeText.prefix(20))'")
            }
            at = lineEnd + 2
            if size == 0 { return find([13, 10, 13, 10], in: data[(at - 2)...]) == nil ? nil : body }
            guard data.endIndex - at >= size + 2 else { return nil }
            body += data[at..<(at + size)]
            at += size + 2
        }
    }

    /// The index where `needle` first starts in `haystack`.
    static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = haystack.startIndex
        while i + needle.count <= haystack.endIndex {
            if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's optional white space).
    var trimmingSpaces: String {
        let chars = Array(self)
        var start = 0, end = chars.count
        while start < end, chars[start] == " " || chars[start] == "\t" { start += 1 }
        while end > start, chars[end - 1] == " " || chars[end - 1] == "\t" { end -= 1 }
        return String(chars[start..<end])
    }
}
