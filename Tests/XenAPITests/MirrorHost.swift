import Foundation
import Glibc
import SREngine
import TestSupport
import Testing
import XMLRPC

/// A host as XAPI sees it, with a recording xapi: an SM directory holding `FileSR` (a link to
/// the built sm-plugin), a directory for file SRs, and each call run as XAPI execs the
/// plugin, pointed at the recording endpoint through `SM_XAPI_URL`.
final class MirrorHost: @unchecked Sendable {
    let dir = TempDir(prefix: "smxapi")
    let xapi: RecordingXAPI
    var location: String { dir.path + "/srs" }
    var environment: [String: String]

    init() throws {
        let products = try #require(productsDirectory(containing: "sm-plugin"), "sm-plugin is not built next to the tests")
        for sub in ["sm", "srs", "run"] {
            try FileManager.default.createDirectory(atPath: dir.file(sub), withIntermediateDirectories: true)
        }
        try FileManager.default.createSymbolicLink(atPath: dir.file("sm/FileSR"), withDestinationPath: products + "/sm-plugin")
        xapi = try RecordingXAPI()
        environment = ["PATH": "/usr/bin:/bin", "ORIGINATOR": "SM", "SM_RUN_DIR": dir.file("run"),
                       "SM_TAPDISK": "/nonexistent/sm-tapdisk", "SM_GC_KICK": "none", "SM_XAPI_URL": "\(xapi.endpoint)", "SM_XAPI_TIMEOUT": "5"]
    }

    deinit { xapi.stop() }

    /// Runs one call (at most 30 s; SIGKILL after that); its message and stderr.
    func run(_ call: XAPICall) throws -> (message: XMLRPCMessage, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: dir.file("sm/FileSR"))
        p.arguments = [call.text]
        p.environment = environment
        let out = dir.file("stdout"), err = dir.file("stderr")
        for f in [out, err] { _ = FileManager.default.createFile(atPath: f, contents: nil) }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        let exited = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in exited.signal() }
        try p.run()
        if exited.wait(timeout: .now() + 30) != .success {
            kill(p.processIdentifier, SIGKILL)
            _ = exited.wait(timeout: .now() + 5)
            Issue.record("\(call.command) did not finish within 30 s")
        }
        let text = try String(contentsOfFile: out, encoding: .utf8)
        return (try XMLRPCDecoder.decode(text), try String(contentsOfFile: err, encoding: .utf8))
    }

    /// Runs a call that must succeed; its result.
    @discardableResult
    func ok(_ call: XAPICall, sourceLocation: SourceLocation = #_sourceLocation) throws -> XMLRPCValue {
        let (message, stderr) = try run(call)
        guard case let .response(value) = message else {
            Issue.record("\(call.command) failed: \(message) \(stderr)", sourceLocation: sourceLocation)
            throw MirrorHostError.failed(call.command)
        }
        return value
    }

    /// A host and a new file SR (sr_create, sr_attach), made without a session so nothing
    /// is recorded yet.
    static func withSR() throws -> (MirrorHost, String) {
        let host = try MirrorHost()
        let sr = UUID().uuidString.lowercased()
        try host.alone(XAPICall("sr_create", location: host.location, sr: sr, args: ["0"]))
        try host.alone(XAPICall("sr_attach", location: host.location, sr: sr))
        return (host, sr)
    }

    /// Runs a call without a session (the plugin alone); its result.
    @discardableResult
    func alone(_ call: XAPICall) throws -> XMLRPCValue {
        var c = call
        c.sessionRef = nil
        return try ok(c)
    }

    /// A VDI made without a session; its uuid.
    func makeVDI(_ sr: String, label: String = "disk") throws -> String {
        try #require(try alone(createCall(sr, label: label))["uuid"]?.stringValue)
    }

    func createCall(_ sr: String, size: UInt64 = 8 << 20, label: String = "disk") -> XAPICall {
        var call = XAPICall("vdi_create", location: location, sr: sr, args: XAPICall.createArgs(size: "\(size)", label: label))
        call.vdiType = "user"
        call.vdiSMConfig = []
        return call
    }

    /// The SR's records as the engine holds them (what the mirror copies).
    func records(_ sr: String) throws -> [String: VDIRecord] {
        let attached = try SRManager().attach(uuid: sr, type: "file", deviceConfig: ["location": location])
        return Dictionary(uniqueKeysWithValues: try attached.vdis().map { ($0.uuid, $0) })
    }
}

enum MirrorHostError: Error { case failed(String) }
