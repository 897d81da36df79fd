import Testing
@testable import XenAPI

@Suite struct EndpointTests {
    @Test func unixSpellings() throws {
        for text in ["unix:/var/lib/xcp/xapi", "unix:///var/lib/xcp/xapi", "/var/lib/xcp/xapi"] {
            #expect(try XenAPIEndpoint(parsing: text) == .unix(path: "/var/lib/xcp/xapi"))
        }
        #expect(try XenAPIEndpoint.fromEnvironment([:]) == .xapiLocal)
        #expect(try XenAPIEndpoint.fromEnvironment(["SM_XAPI_URL": ""]) == .xapiLocal)
    }

    @Test func httpSpellings() throws {
        #expect(try XenAPIEndpoint(parsing: "http://127.0.0.1:8080") == .tcp(host: "127.0.0.1", port: 8080, path: "/"))
        #expect(try XenAPIEndpoint(parsing: "http://xapi.local/RPC2") == .tcp(host: "xapi.local", port: 80, path: "/RPC2"))
        #expect(try XenAPIEndpoint(parsing: "http://[::1]:9/") == .tcp(host: "::1", port: 9, path: "/"))
        #expect(try XenAPIEndpoint.fromEnvironment(["SM_XAPI_URL": "http://[::1]"]) == .tcp(host: "::1", port: 80, path: "/"))
    }

    @Test func hostHeaderAndDescription() throws {
        let v6 = try XenAPIEndpoint(parsing: "http://[::1]:9/x")
        #expect(v6.hostHeader == "[::1]:9")
        #expect(v6.description == "http://[::1]:9/x")
        #expect(XenAPIEndpoint.xapiLocal.hostHeader == "localhost")
        #expect(XenAPIEndpoint.xapiLocal.description == "unix:/var/lib/xcp/xapi")
    }

    @Test(arguments: ["https://host", "ftp://x", "unix:relative", "http://", "http://host:0", "http://host:99999",
                      "http://[::1", "http://[::1]x", "unix:/" + String(repeating: "a", count: 120)])
    func refused(_ text: String) {
        #expect(throws: XenAPIError.self) { try XenAPIEndpoint(parsing: text) }
    }
}
