import Foundation
import Testing
import XMLRPC

@Suite("XML-RPC as XAPI and SM speak it")
struct XMLRPCTests {
    /// Byte for byte what XAPI's encoder sends: bare strings, `<value/>` for "", SRmaster.
    static let xapiCall = """
        <?xml version="1.0"?><methodCall><methodName>vdi_create</methodName><params><param><value><struct>\
        <member><name>host_ref</name><value>OpaqueRef:h</value></member>\
        <member><name>command</name><value>vdi_create</value></member>\
        <member><name>args</name><value><array><data><value>1073741824</value><value>my disk</value><value/>\
        <value/><value>false</value><value>19700101T00:00:00Z</value><value/><value>false</value></data></array></value></member>\
        <member><name>device_config</name><value><struct><member><name>SRmaster</name><value>true</value></member>\
        <member><name>location</name><value>/srv/sr</value></member></struct></value></member>\
        <member><name>session_ref</name><value>OpaqueRef:s</value></member>\
        <member><name>sr_uuid</name><value>7f1c</value></member>\
        <member><name>vdi_sm_config</name><value><struct/></value></member>\
        </struct></value></param></params></methodCall>
        """

    @Test("XAPI's call: untyped strings, empty values, nested struct and array")
    func xapiDialect() throws {
        guard case let .call(method, params) = try XMLRPCDecoder.decode(Self.xapiCall) else {
            Issue.record("not a call")
            return
        }
        #expect(method == "vdi_create")
        #expect(params.count == 1)
        let call = params[0]
        #expect(call["command"] == .string("vdi_create"))
        #expect(call["device_config"]?.stringDictionary == ["SRmaster": "true", "location": "/srv/sr"])
        let args = try #require(call["args"]?.arrayValue)
        #expect(args.count == 8)
        #expect(args[0] == .string("1073741824") && args[2] == .string("") && args[4] == .string("false"))
        #expect(call["vdi_sm_config"]?.stringDictionary == [:])
        #expect(call["vdi_uuid"] == nil)
    }

    @Test("typed values round trip through the encoder and decoder")
    func roundTrip() throws {
        let value = XMLRPCValue.structure([
            ("s", .string("a <b> & c")), ("i", .int(-42)), ("t", .bool(true)), ("d", .double(1.5)),
            ("b", .base64([0, 1, 2, 250])), ("when", .dateTime("20261121T08:00:00Z")), ("n", .nil),
            ("list", .array([.string(""), .int(1), .structure([])])),
        ])
        for message in [XMLRPCMessage.response(value), .call(method: "m", params: [value, .string("x")]),
                        .fault(code: 144, string: "The VDI is not available [opterr=gone]")] {
            #expect(try XMLRPCDecoder.decode(XMLRPCEncoder.encode(message)) == message)
        }
    }

    @Test("SM's unit result and fault shape")
    func responses() {
        #expect(XMLRPCEncoder.encode(.response(.nil)).contains("<params>\n<param>\n<value><nil/></value>"))
        let fault = XMLRPCEncoder.encode(.fault(code: 38, string: "Unimplemented"))
        #expect(fault.contains("<name>faultCode</name>\n<value><int>38</int></value>"))
        #expect(fault.contains("<name>faultString</name>\n<value><string>Unimplemented</string></value>"))
    }

    @Test("bad documents name what is wrong and where", arguments: [
        ("", "not well-formed"),
        ("<methodCall><methodName>x</methodName><params><param><value><int>1", "not well-formed"),
        ("not xml at all", "not well-formed"),
        ("<foo/>", "the root element must be methodCall or methodResponse"),
        ("<methodCall><params/></methodCall>", "no <methodName>"),
        ("<methodCall><methodName>m</methodName><params><param><value><int>x1</int></value></param></params></methodCall>",
         "methodCall/params/param[1]/value/int: 'x1' is not an integer"),
        ("<methodCall><methodName>m</methodName><params><param><value><blob/></value></param></params></methodCall>",
         "unknown type <blob>"),
        ("<methodResponse><params/></methodResponse>", "expected one <param>, found 0"),
    ])
    func malformed(document: String, expected: String) {
        do {
            let message = try XMLRPCDecoder.decode(document)
            Issue.record("decoded \(message)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test("XML 1.0 characters: control characters are illegal in labels")
    func illegalCharacters() {
        #expect(XMLCharacters.firstIllegal(in: "a normal label – with ünïcode") == nil)
        #expect(XMLCharacters.firstIllegal(in: "bell\u{07}") == "\u{07}")
        #expect(XMLCharacters.firstIllegal(in: "tab\tnewline\n") == nil)
        #expect(XMLCharacters.firstIllegal(in: "\u{FFFE}") == "\u{FFFE}")
    }
}
