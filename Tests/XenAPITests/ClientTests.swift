import Foundation
import Glibc
import TestSupport
import Testing
import XMLRPC
@testable import XenAPI

/// The client against a recording xapi on loopback: what goes on the wire, and every way a
/// call can fail.
@Suite struct ClientTests {
    static let session = "OpaqueRef:session-1"

    func client(_ xapi: RecordingXAPI, subtask: String? = nil, timeout: Double = 5) throws -> XenAPIClient {
        try XenAPIClient(endpoint: xapi.endpoint, sessionRef: Self.session, subtaskOf: subtask, timeoutSeconds: timeout)
    }

    @Test func callOnTheWire() throws {
        let xapi = try RecordingXAPI()
        defer { xapi.stop() }
        let ref = try client(xapi).vdiByUUID("0a1b2c3d-0000-4000-8000-000000000001")
        #expect(ref == "OpaqueRef:vdi-0a1b2c3d")
        let call = try #require(xapi.calls.first)
        #expect(call.method == "VDI.get_by_uuid" && call.session == Self.session)
        #expect(call.params == [.string("0a1b2c3d-0000-4000-8000-000000000001")])
        #expect(call.headers["request-line"] == "POST / HTTP/1.1")
        #expect(call.headers["content-type"] == "text/xml")
        #expect(call.headers["host"] == "127.0.0.1:\(xapi.endpoint.port)")
        #expect(call.headers["subtask-of"] == nil)
    }

    @Test func subtaskHeader() throws {
        let xapi = try RecordingXAPI()
        defer { xapi.stop() }
        try client(xapi, subtask: "OpaqueRef:task-9").srSetPhysicalSize("OpaqueRef:sr", 1 << 40)
        let call = try #require(xapi.calls.first)
        #expect(call.headers["subtask-of"] == "OpaqueRef:task-9")
        #expect(call.method == "SR.set_physical_size")
        #expect(call.params == [.string("OpaqueRef:sr"), .string("1099511627776")])
        #expect(throws: XenAPIError.badHeader(name: "Subtask-of", value: "a\r\nX: y")) {
            try XenAPIClient(endpoint: xapi.endpoint, sessionRef: "s", subtaskOf: "a\r\nX: y")
        }
    }

    /// VDI.db_introduce with XenServer's nineteen arguments, typed as SM sends them.
    @Test func dbIntroduceArguments() throws {
        let xapi = try RecordingXAPI()
        defer { xapi.stop() }
        var v = VDIIntroduction(uuid: "11111111-2222-4333-8444-555555555555", srRef: "OpaqueRef:sr", location: "loc")
        v.nameLabel = "base copy"
        v.readOnly = true
        v.managed = false
        v.smConfig = ["vhd-parent": "p", "vdi_type": "vhd"]
        v.virtualSize = 8 << 20
        v.physicalUtilisation = 4096
        v.snapshotTime = "20260101T12:00:00Z"
        #expect(try client(xapi).vdiDBIntroduce(v) == "OpaqueRef:vdi-11111111")
        let params = try #require(xapi.calls.first?.params)
        #expect(params == [
            .string(v.uuid), .string("base copy"), .string(""), .string("OpaqueRef:sr"), .string("user"), .bool(false),
            .bool(true), .structure([]), .string("loc"), .structure([]),
            .structure([("vdi_type", .string("vhd")), ("vhd-parent", .string("p"))]), .bool(false),
            .string("8388608"), .string("4096"), .string("OpaqueRef:NULL"), .bool(false),
            .dateTime("20260101T12:00:00Z"), .string("OpaqueRef:NULL"), .bool(false),
        ])
    }

    /// Each setter: method name and argument types.
    @Test func setters() throws {
        let xapi = try RecordingXAPI()
        defer { xapi.stop() }
        let c = try client(xapi)
        let r = "OpaqueRef:v"
        try c.vdiDBForget(r)
        try c.vdiSetVirtualSize(r, 2)
        try c.vdiSetPhysicalUtilisation(r, 3)
        try c.vdiSetSMConfig(r, ["vhd-parent": "p"])
        try c.vdiAddToSMConfig(r, key: "k", value: "v")
        try c.vdiRemoveFromSMConfig(r, key: "k")
        try c.vdiSetManaged(r, false)
        try c.vdiSetReadOnly(r, true)
        try c.vdiSetIsASnapshot(r, true)
        try c.vdiSetSnapshotOf(r, "OpaqueRef:o")
        try c.vdiSetSnapshotTime(r, "20260101T00:00:00Z")
        try c.srSetVirtualAllocation("OpaqueRef:s", 4)
        try c.srSetPhysicalUtilisation("OpaqueRef:s", 5)
        #expect(xapi.calls.map(\.wire) == [
            "VDI.db_forget s:OpaqueRef:v", "VDI.set_virtual_size s:OpaqueRef:v s:2",
            "VDI.set_physical_utilisation s:OpaqueRef:v s:3", "VDI.set_sm_config s:OpaqueRef:v {vhd-parent=s:p}",
            "VDI.add_to_sm_config s:OpaqueRef:v s:k s:v", "VDI.remove_from_sm_config s:OpaqueRef:v s:k",
            "VDI.set_managed s:OpaqueRef:v b:false", "VDI.set_read_only s:OpaqueRef:v b:true",
            "VDI.set_is_a_snapshot s:OpaqueRef:v b:true", "VDI.set_snapshot_of s:OpaqueRef:v s:OpaqueRef:o",
            "VDI.set_snapshot_time s:OpaqueRef:v t:20260101T00:00:00Z",
            "SR.set_virtual_allocation s:OpaqueRef:s s:4", "SR.set_physical_utilisation s:OpaqueRef:s s:5",
        ])
    }

    @Test func recordsOfAnSR() throws {
        let xapi = try RecordingXAPI()
        defer { xapi.stop() }
        xapi.holdRecords([("OpaqueRef:a", RecordingXAPI.record(uuid: "ua", location: "la", virtualSize: 1, physicalUtilisation: 2,
                                                               smConfig: ["vdi_type": "vhd"]))])
        let records = try client(xapi).vdiRecords(inSR: "OpaqueRef:sr")
        #expect(records == [XAPIVDIRecord(ref: "OpaqueRef:a", uuid: "ua", location: "la", virtualSize: 1, physicalUtilisation: 2,
                                          smConfig: ["vdi_type": "vhd"])])
        #expect(xapi.calls.first?.params == [.string("field \"SR\" = \"OpaqueRef:sr\"")])
    }

    @Test func failureIsTyped() throws {
        let xapi = try RecordingXAPI()
        defer { xapi.stop() }
        xapi.answer("VDI.db_forget", with: .failure(["HANDLE_INVALID", "VDI", "OpaqueRef:gone"]))
        #expect(throws: XenAPIError.failure(method: "VDI.db_forget", description: ["HANDLE_INVALID", "VDI", "OpaqueRef:gone"])) {
            try client(xapi).vdiDBForget("OpaqueRef:gone")
        }
    }

    @Test func httpErrorAndGarbage() throws {
        let xapi = try RecordingXAPI()
        defer { xapi.stop() }
        xapi.answer("SR.get_by_uuid", with: .http(status: 500, reason: "Internal Error"))
        #expect(throws: XenAPIError.http(endpoint: "\(xapi.endpoint)", method: "SR.get_by_uuid", status: 500, reason: "Internal Error")) {
            try client(xapi).srByUUID("x")
        }
        xapi.answer("VDI.get_by_uuid", with: .body("<html>not xml-rpc"))
        #expect { try client(xapi).vdiByUUID("x") } throws: { ($0 as? XenAPIError).map { !$0.isTransport } ?? false }
        xapi.answer("VDI.get_by_uuid", with: .value(.int(7)))
        #expect(throws: XenAPIError.malformedResponse(method: "VDI.get_by_uuid", detail: "expected a string Value, got int(7)")) {
            try client(xapi).vdiByUUID("x")
        }
    }

    @Test func timeoutIsBounded() throws {
        let xapi = try RecordingXAPI()
        defer { xapi.stop() }
        xapi.answer("VDI.get_by_uuid", with: .silence)
        let start = Date()
        #expect(throws: XenAPIError.timeout(endpoint: "\(xapi.endpoint)", method: "VDI.get_by_uuid", seconds: 0.3)) {
            try client(xapi, timeout: 0.3).vdiByUUID("x")
        }
        #expect(Date().timeIntervalSince(start) < 3)
    }

    @Test func unreachable() throws {
        let dir = TempDir()
        let missing = XenAPIEndpoint.unix(path: dir.file("no-socket"))
        #expect(throws: XenAPIError.unreachable(endpoint: "\(missing)", errno: ENOENT, detail: String(cString: strerror(ENOENT)))) {
            try XenAPIClient(endpoint: missing, sessionRef: "s").srByUUID("x")
        }
        // A port nobody listens on any more: refused at once.
        let closed = try RecordingXAPI()
        let endpoint = closed.endpoint
        closed.stop()
        #expect { try XenAPIClient(endpoint: endpoint, sessionRef: "s", timeoutSeconds: 2).srByUUID("x") } throws: {
            guard case let .unreachable(_, code, _)? = $0 as? XenAPIError else { return false }
            return code == ECONNREFUSED
        }
    }

    @Test func overAUnixSocket() throws {
        let dir = TempDir()
        let xapi = try RecordingXAPI(unixPath: dir.file("xapi"))
        defer { xapi.stop() }
        #expect(try client(xapi).srByUUID("0123456789") == "OpaqueRef:sr-01234567")
        #expect(xapi.calls.first?.headers["host"] == "localhost")
    }
}

extension XenAPIEndpoint {
    var port: UInt16 { if case let .tcp(_, port, _) = self { port } else { 0 } }
}

extension RecordingXAPI.Call {
    /// `method param param...` in the compact typed spelling.
    var wire: String { ([method] + params.map(\.wire)).joined(separator: " ") }
}

extension XMLRPCValue {
    /// A compact typed spelling for comparing calls.
    var wire: String {
        switch self {
        case let .string(s): "s:\(s)"
        case let .bool(b): "b:\(b)"
        case let .dateTime(t): "t:\(t)"
        case let .int(n): "i:\(n)"
        case let .structure(m): "{" + m.map { "\($0.0)=\($0.1.wire)" }.joined(separator: ",") + "}"
        case let .array(a): "[" + a.map(\.wire).joined(separator: ",") + "]"
        default: "\(self)"
        }
    }
}
