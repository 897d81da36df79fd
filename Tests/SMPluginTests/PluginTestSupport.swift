import Foundation
import TestSupport
import Glibc
import Testing
import XMLRPC

/// XAPI's call builder, shared with the XenAPI mirror's tests (every file here sees it).
typealias XAPICall = TestSupport.XAPICall

/// The products directory of this build: walking up from the test bundle to where sm-plugin is.
let productsDirectory: String? = TestSupport.productsDirectory(containing: "sm-plugin")

/// The repository root (for scripts/).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

struct PluginRun {
    var status: Int32
    var out: String
    var err: String
    var message: XMLRPCMessage?
    var outputClosed = true

    /// The fault code, nil for a success.
    var faultCode: Int? { if case let .fault(code, _)? = message { return code } else { return nil } }
    var faultString: String { if case let .fault(_, s)? = message { return s } else { return "" } }
    var result: XMLRPCValue? { if case let .response(v)? = message { return v } else { return nil } }
}

/// A host as XAPI sees it: an SM directory holding a `FileSR` link to the built plugin,
/// a directory for file SRs, a run directory, and the plugin run exactly as XAPI execs it.
final class PluginHost: @unchecked Sendable {
    let dir = TempDir()
    var smDirectory: String { dir.path + "/sm" }
    var location: String { dir.path + "/srs" }
    var runDirectory: String { dir.path + "/run" }
    var environment: [String: String] = [:]

    init(linkName: String = "FileSR") throws {
        self.linkName = linkName
        let products = try #require(productsDirectory, "sm-plugin is not built next to the tests")
        try FileManager.default.createDirectory(atPath: smDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: location, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: smDirectory + "/" + linkName,
                                                   withDestinationPath: products + "/sm-plugin")
        environment["SM_RUN_DIR"] = runDirectory
        environment["SM_TAPDISK"] = "/nonexistent/sm-tapdisk"
        environment["SM_GC_KICK"] = "none"  // GCKickTests turn the background collector on
    }

    let linkName: String
    var executable: String { smDirectory + "/" + linkName }

    /// Runs the plugin with raw argv (after argv[0]), as XAPI does: waits for the exit (at
    /// most 30 s), then reads what it wrote. `outputClosed` is false when something else (a
    /// daemon it started) still holds its stdout or stderr, which would hang XAPI's read.
    func runRaw(_ arguments: [String]) throws -> PluginRun {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var env = ["PATH": "/usr/bin:/bin", "ORIGINATOR": "SM"]
        env.merge(environment) { _, n in n }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let exited = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in exited.signal() }
        try p.run()
        let outReader = PipeReader(out), errReader = PipeReader(err)
        guard exited.wait(timeout: .now() + 30) == .success else {
            p.terminate()
            throw PluginTestError.timeout(arguments.first ?? "")
        }
        let o = outReader.finish(), e = errReader.finish()
        let text = String(decoding: o.data, as: UTF8.self)
        #expect(text.hasPrefix("<?xml version='1.0'?>\n<methodResponse>\n"), "stdout: \(text)")
        return PluginRun(status: p.terminationStatus, out: text, err: String(decoding: e.data, as: UTF8.self),
                         message: try? XMLRPCDecoder.decode(text), outputClosed: o.closed && e.closed)
    }

    func run(_ call: XAPICall, sourceLocation: SourceLocation = #_sourceLocation) throws -> PluginRun {
        let r = try runRaw([call.text])
        #expect(r.status == 0, sourceLocation: sourceLocation)
        #expect(r.outputClosed, "\(call.command) left its stdout or stderr open", sourceLocation: sourceLocation)
        return r
    }

    /// Runs a call that must succeed; its result.
    @discardableResult
    func ok(_ call: XAPICall, sourceLocation: SourceLocation = #_sourceLocation) throws -> XMLRPCValue {
        let r = try run(call, sourceLocation: sourceLocation)
        #expect(r.status == 0, sourceLocation: sourceLocation)
        let result = try #require(r.result, "\(call.command): \(r.out) \(r.err)", sourceLocation: sourceLocation)
        return result
    }

    /// Runs a call that must fail with `code`; checks the shape XAPI parses.
    @discardableResult
    func fails(_ call: XAPICall, _ code: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> PluginRun {
        let r = try run(call, sourceLocation: sourceLocation)
        #expect(r.status == 0, sourceLocation: sourceLocation)
        #expect(r.faultCode == code, "\(call.command): \(r.out) \(r.err)", sourceLocation: sourceLocation)
        return r
    }

    /// A new file SR (sr_create then sr_attach), as XAPI makes one; its uuid.
    func makeSR() throws -> String {
        let sr = UUID().uuidString.lowercased()
        try ok(XAPICall("sr_create", location: location, sr: sr, args: ["0"]))
        try ok(XAPICall("sr_attach", location: location, sr: sr))
        return sr
    }

    /// A new VDI of `size` bytes; its uuid.
    func makeVDI(_ sr: String, size: UInt64 = 8 << 20, label: String = "disk") throws -> String {
        var call = XAPICall("vdi_create", location: location, sr: sr, args: XAPICall.createArgs(size: "\(size)", label: label))
        call.vdiType = "user"
        call.vdiSMConfig = []
        return try #require(try ok(call)["uuid"]?.stringValue)
    }

    func images(_ sr: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: location + "/" + sr)) ?? []).filter { $0.hasSuffix(".vhd") }.sorted()
    }
}

enum PluginTestError: Error { case timeout(String) }

/// Drains a pipe on a background thread; `finish` waits briefly for end-of-file and says
/// whether it came (every writer closed its end).
final class PipeReader: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var closed = false
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                lock.lock()
                if chunk.isEmpty { closed = true } else { data.append(chunk) }
                lock.unlock()
                if chunk.isEmpty { break }
            }
            done.signal()
        }
    }

    func finish() -> (data: Data, closed: Bool) {
        _ = done.wait(timeout: .now() + 2)
        lock.lock()
        defer { lock.unlock() }
        return (data, closed)
    }
}
