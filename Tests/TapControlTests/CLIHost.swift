import Foundation
import TestSupport
import Testing

/// `sm-cli` run as a user would, against a temporary registry, SR location and run directory.
final class CLIHost: @unchecked Sendable {
    let dir = TempDir(prefix: "tapcli")
    var location: String { dir.path + "/srs" }
    var runDirectory: String { dir.path + "/run" }

    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        var env = ProcessInfo.processInfo.environment
        env["SM_REGISTRY"] = dir.path + "/registry.json"
        env["SM_RUN_DIR"] = runDirectory
        env["SM_TAPDISK"] = Built.tapdisk
        env["SM_GC_KICK"] = "none"
        return try runProcess(try #require(Built.smCLI), args, environment: env)
    }

    /// Runs a command that must succeed; its trimmed standard output.
    @discardableResult
    func ok(_ args: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try run(args)
        #expect(r.status == 0, "\(args.joined(separator: " ")): \(r.err)", sourceLocation: sourceLocation)
        return r.out
    }

    /// A file SR and a VDI of `mib` MiB in it.
    func makeVDI(mib: Int) throws -> (sr: String, vdi: String) {
        let sr = try ok("sr-create", "name-label=t", "device-config:location=\(location)")
        let vdi = try ok("vdi-create", "sr-uuid=\(sr)", "name-label=d", "virtual-size=\(mib)MiB")
        return (sr, vdi)
    }

    func imagePath(sr: String, vdi: String) -> String { "\(location)/\(sr)/\(vdi).vhd" }
}
