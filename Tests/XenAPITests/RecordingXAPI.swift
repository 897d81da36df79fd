import Foundation
import Glibc
@testable import XMLRPC
@testable import XenAPI

/// A stand-in for xapi on loopback (TCP on 127.0.0.1 or a Unix socket): it speaks XenAPI's
/// wire format (HTTP POST of an XML-RPC call, `{Status, Value}` answers with bare string
/// values as xapi writes them), records each call, and answers refs and Success unless told
/// to fail. One connection at a time, as the plugin makes them; `stop()` ends it.
final class RecordingXAPI: @unchecked Sendable {
    struct Call: Equatable {
        var method: String
        /// The parameters after the session reference.
        var params: [XMLRPCValue]
        var session: String
        /// Header names lowercased.
        var headers: [String: String]
    }

    enum Reply {
        case value(XMLRPCValue)
        case failure([String])
        case http(status: Int, reason: String)
        case body(String)
        /// Holds the connection without answering (the client's timeout must end it).
        case silence
    }

    let endpoint: XenAPIEndpoint
    private let listener: Int32
    private let lock = NSLock()
    private var recorded: [Call] = []
    private var replies: [String: Reply] = [:]
    private var records: [(String, XMLRPCValue)] = []
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    /// Listens on `unixPath`, else on an ephemeral TCP port of 127.0.0.1.
    init(unixPath: String? = nil) throws {
        let address: SocketAddress
        if let unixPath { address = .unix(unixPath) } else { address = try SocketAddress.resolve(host: "127.0.0.1", port: 0)[0] }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard fd >= 0, address.withSockaddr({ bind(fd, $0, $1) }) == 0, listen(fd, 8) == 0 else {
            let e = errno
            close(fd)
            throw RecordingXAPIError.listen(errno: e)
        }
        listener = fd
        if let unixPath {
            endpoint = .unix(path: unixPath)
        } else {
            var sin = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            endpoint = .tcp(host: "127.0.0.1", port: UInt16(bigEndian: sin.sin_port), path: "/")
        }
        Thread.detachNewThread { [self] in serve() }
    }

    deinit { stop() }

    /// Stops accepting and waits (at most 5 s) for the serving thread to finish.
    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        _ = finished.wait(timeout: .now() + 5)
        close(listener)
    }

    var calls: [Call] { lock.withLock { recorded } }
    var methods: [String] { calls.map(\.method) }

    /// Forgets the calls so far (the next command's calls are then all there is).
    func clear() { lock.withLock { recorded = [] } }

    /// Answers every later call of `method` with `reply`.
    func answer(_ method: String, with reply: Reply) { lock.withLock { replies[method] = reply } }

    /// What `VDI.get_all_records_where` answers: XAPI's records of the SR's VDIs.
    func holdRecords(_ list: [(ref: String, record: XMLRPCValue)]) { lock.withLock { records = list } }

    /// A VDI record as xapi sends it (int64 as strings).
    static func record(uuid: String, location: String, virtualSize: UInt64, physicalUtilisation: UInt64,
                       readOnly: Bool = false, managed: Bool = true, smConfig: [String: String]) -> XMLRPCValue {
        .structure([("uuid", .string(uuid)), ("location", .string(location)),
                    ("virtual_size", .string("\(virtualSize)")), ("physical_utilisation", .string("\(physicalUtilisation)")),
                    ("read_only", .bool(readOnly)), ("managed", .bool(managed)), ("sm_config", XenAPIWire.map(smConfig))])
    }

    // MARK: Serving

    private func serve() {
        defer { finished.signal() }
        while !lock.withLock({ stopping }) {
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ fd: Int32) {
        guard let (headers, body) = Self.readRequest(fd),
              case let .call(method, params)? = try? XMLRPCDecoder.decode(Data(body)) else {
            respond(fd, status: 400, reason: "Bad Request", body: "")
            return
        }
        let session = params.first?.stringValue ?? ""
        let rest = Array(params.dropFirst())
        let reply = lock.withLock { () -> Reply in
            recorded.append(Call(method: method, params: rest, session: session, headers: headers))
            return replies[method] ?? defaultReply(method, rest)
        }
        switch reply {
        case let .value(v): respond(fd, status: 200, reason: "OK", body: Self.encode(["Status": .string("Success"), "Value": v]))
        case let .failure(description):
            respond(fd, status: 200, reason: "OK",
                    body: Self.encode(["Status": .string("Failure"), "ErrorDescription": .array(description.map(XMLRPCValue.string))]))
        case let .http(status, reason): respond(fd, status: status, reason: reason, body: "")
        case let .body(text): respond(fd, status: 200, reason: "OK", body: text)
        case .silence:
            // Until the client gives up and closes (or the 5 s receive timeout passes).
            var byte: UInt8 = 0
            while recv(fd, &byte, 1, 0) > 0 {}
        }
    }

    /// Refs derived from uuids, as the test's XAPICall derives them; Success otherwise.
    private func defaultReply(_ method: String, _ params: [XMLRPCValue]) -> Reply {
        let first = params.first?.stringValue ?? ""
        switch method {
        case "SR.get_by_uuid": return .value(.string("OpaqueRef:sr-" + first.prefix(8)))
        case "VDI.get_by_uuid", "VDI.db_introduce": return .value(.string("OpaqueRef:vdi-" + first.prefix(8)))
        case "VDI.get_all_records_where": return .value(.structure(records))
        default: return .value(.string(""))
        }
    }

    /// xapi's style: a struct whose string members are bare `<value>text</value>`.
    static func encode(_ members: KeyValuePairs<String, XMLRPCValue>) -> String {
        let inner = members.map { name, value in
            "<member><name>\(name)</name>"
                + (value.stringValue.map { "<value>\(XMLRPCEncoder.escape($0))</value>" } ?? XMLRPCEncoder.value(value))
                + "</member>"
        }.joined()
        return "<methodResponse><params><param><value><struct>\(inner)</struct></value></param></params></methodResponse>"
    }

    private func respond(_ fd: Int32, status: Int, reason: String, body: String) {
        let bytes = Array("HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/xml\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    /// The headers (plus `request-line`) and the body of one request (Content-Length
    /// bodies only, as every XML-RPC client sends).
    static func readRequest(_ fd: Int32) -> ([String: String], [UInt8])? {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var head: (end: Int, headers: [String: String], length: Int)?
        while true {
            if head == nil, let end = HTTPResponseParser.find([13, 10, 13, 10], in: data[...]) {
                let lines = String(decoding: data[..<end], as: UTF8.self).split(separator: "\r\n")
                var headers = ["request-line": String(lines.first ?? "")]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingSpaces
                }
                head = (end, headers, Int(headers["content-length"] ?? "") ?? 0)
            }
            if let head, data.count >= head.end + 4 + head.length {
                return (head.headers, Array(data[(head.end + 4)..<(head.end + 4 + head.length)]))
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            data += chunk[..<n]
        }
    }
}

enum RecordingXAPIError: Error { case listen(errno: Int32) }
