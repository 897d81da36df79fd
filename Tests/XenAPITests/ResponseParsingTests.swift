import Testing
import XMLRPC
@testable import XenAPI

/// The HTTP response reader and XenAPI's result convention, without sockets.
@Suite struct ResponseParsingTests {
    func parse(_ text: String, atEOF: Bool = false) throws -> HTTPResponse? {
        var p = HTTPResponseParser()
        try p.append(Array(text.utf8))
        return try p.response(atEOF: atEOF)
    }

    @Test func contentLength() throws {
        let r = try #require(try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhelloTRAILING"))
        #expect(r.status == 200 && r.reason == "OK" && r.headers["x-a"] == "b")
        #expect(r.body == Array("hello".utf8))
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel") == nil)
    }

    @Test func chunked() throws {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n"
        #expect(try parse(text)?.body == Array("Wikipedia".utf8))
        #expect(try parse(String(text.dropLast(2))) == nil)
        #expect(throws: HTTPParseError.self) { try parse(String(text.dropLast(2)), atEOF: true) }
        #expect(throws: HTTPParseError.self) { try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") }
    }

    @Test func closeDelimited() throws {
        #expect(try parse("HTTP/1.0 200 OK\r\n\r\nbody") == nil)
        #expect(try parse("HTTP/1.0 200 OK\r\n\r\nbody", atEOF: true)?.body == Array("body".utf8))
    }

    @Test func notHTTP() {
        #expect(throws: HTTPParseError.self) { try parse("SSH-2.0-OpenSSH\r\n\r\n") }
        #expect(throws: HTTPParseError.self) { try parse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n") }
        #expect(throws: HTTPParseError.self) { try parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", atEOF: true) }
        #expect(throws: HTTPParseError.self) { try parse("HTTP/1.1 200", atEOF: true) }
    }

    @Test func oversizedIsRefused() {
        var p = HTTPResponseParser()
        #expect(throws: HTTPParseError.self) { try p.append([UInt8](repeating: 65, count: HTTPResponseParser.responseBytesMax + 1)) }
    }

    @Test func successAndFailure() throws {
        let ok = XMLRPCMessage.response(.structure([("Status", .string("Success")), ("Value", .string("OpaqueRef:1"))]))
        #expect(try XenAPIResult.value(of: ok, method: "m") == .string("OpaqueRef:1"))
        let void = XMLRPCMessage.response(.structure([("Status", .string("Success"))]))
        #expect(try XenAPIResult.value(of: void, method: "m") == .string(""))
        let failed = XMLRPCMessage.response(.structure([
            ("Status", .string("Failure")),
            ("ErrorDescription", .array([.string("HANDLE_INVALID"), .string("VDI"), .string("OpaqueRef:x")])),
        ]))
        #expect(throws: XenAPIError.failure(method: "VDI.db_forget", description: ["HANDLE_INVALID", "VDI", "OpaqueRef:x"])) {
            try XenAPIResult.value(of: failed, method: "VDI.db_forget")
        }
        #expect(throws: XenAPIError.fault(method: "m", code: 3, string: "no")) {
            try XenAPIResult.value(of: .fault(code: 3, string: "no"), method: "m")
        }
        #expect(throws: XenAPIError.self) { try XenAPIResult.value(of: .response(.string("x")), method: "m") }
        #expect(throws: XenAPIError.self) {
            try XenAPIResult.value(of: .response(.structure([("Status", .string("Failure"))])), method: "m")
        }
    }

    @Test func errorKinds() {
        #expect(XenAPIError.failure(method: "m", description: ["UUID_INVALID"]).failureCode == "UUID_INVALID")
        #expect(XenAPIError.timeout(endpoint: "e", method: "m", seconds: 1).isTransport)
        #expect(!XenAPIError.failure(method: "m", description: []).isTransport)
    }

    @Test func vdiRecordFields() throws {
        let value = XMLRPCValue.structure([
            ("uuid", .string("u")), ("location", .string("l")), ("virtual_size", .string("8388608")),
            ("physical_utilisation", .int(512)), ("read_only", .bool(true)), ("managed", .bool(false)),
            ("sm_config", .structure([("vhd-parent", .string("p"))])),
        ])
        let r = try #require(XAPIVDIRecord(ref: "OpaqueRef:r", value))
        #expect(r == XAPIVDIRecord(ref: "OpaqueRef:r", uuid: "u", location: "l", virtualSize: 8 << 20, physicalUtilisation: 512,
                                   readOnly: true, managed: false, smConfig: ["vhd-parent": "p"]))
        #expect(XAPIVDIRecord(ref: "r", .structure([("uuid", .string("u"))])) == nil)
    }
}
