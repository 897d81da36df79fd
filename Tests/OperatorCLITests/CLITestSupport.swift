import Foundation
import TestSupport
import Glibc
import Testing

@testable import OperatorCLI
@testable import SREngine

/// The built sm-cli next to the test bundle (walking up from this process's executable).
let smCLIPath: String? = productsDirectory(containing: "sm-cli").map { $0 + "/sm-cli" }

struct CLIRun {
    var status: Int32
    var out: String
    var err: String
    var line: String { out.trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// One user's session: a registry and an SR location in a temporary directory, and the
/// sm-cli binary run as a user would run it.
final class CLISession: @unchecked Sendable {
    let dir = TempDir()
    var registry: String { dir.path + "/registry.json" }
    var location: String { dir.path + "/srs" }
    /// The collector runs in the foreground after vdi-destroy and sr-scan, so a test sees
    /// its result when the command returns (`BackgroundKickTests` covers the default).
    var environment: [String: String] = ["SM_GC_KICK": "synchronous"]

    func run(_ args: [String], env extra: [String: String] = [:]) throws -> CLIRun {
        let p = try start(args, env: extra)
        let out = p.out.fileHandleForReading.readDataToEndOfFile()
        let err = p.err.fileHandleForReading.readDataToEndOfFile()
        p.process.waitUntilExit()
        return CLIRun(status: p.process.terminationStatus, out: String(decoding: out, as: UTF8.self),
                      err: String(decoding: err, as: UTF8.self))
    }

    func run(_ args: String..., env: [String: String] = [:]) throws -> CLIRun { try run(args, env: env) }

    /// Starts sm-cli without waiting for it.
    func start(_ args: [String], env extra: [String: String] = [:]) throws -> (process: Process, out: Pipe, err: Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(smCLIPath, "sm-cli is not built next to the tests"))
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["SM_REGISTRY"] = registry
        env.merge(environment) { _, n in n }
        env.merge(extra) { _, n in n }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    /// Runs a command that must succeed, returning its trimmed standard output.
    @discardableResult
    func ok(_ args: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try run(args)
        #expect(r.status == 0, "\(args.joined(separator: " ")): \(r.err)", sourceLocation: sourceLocation)
        return r.line
    }

    /// Runs a command that must fail with SM error `name` (code `code`).
    func fails(_ args: [String], name: String, code: Int, env: [String: String] = [:],
               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try run(args, env: env)
        #expect(r.status != 0, "\(args) succeeded", sourceLocation: sourceLocation)
        #expect(r.err.contains("\(name) (code \(code))"), "\(args): \(r.err)", sourceLocation: sourceLocation)
        #expect(r.out.isEmpty, "\(args) printed \(r.out)", sourceLocation: sourceLocation)
    }

    func createSR() throws -> String { try ok("sr-create", "name-label=t", "device-config:location=\(location)") }

    /// The SR attached in this process, to check it from the inside.
    func attach(_ sr: String) throws -> AttachedSR {
        try SRManager().attach(uuid: sr, type: "file", deviceConfig: ["location": location])
    }

    func image(_ sr: String, _ vdi: String) -> String { "\(location)/\(sr)/\(vdi).vhd" }
}

