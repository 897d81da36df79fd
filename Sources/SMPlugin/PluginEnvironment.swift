import Foundation
import SREngine
import XenAPI

/// What one invocation knows besides the call: the SR type its executable name selects,
/// the engine's options, and where the data-path daemon and its sockets live.
///
/// XAPI runs drivers with an almost empty environment (PATH and `ORIGINATOR=SM`), so every
/// default here is what production uses; the `SM_*` variables exist for tests and operators.
public struct PluginEnvironment: Sendable {
    /// The SM type (`file`) of the driver this executable is.
    public var srType: String
    public var engineOptions: EngineOptions
    /// The sm-tapdisk binary; nil when none is installed (vdi_attach then answers VDIUnavailable).
    public var tapdiskPath: String?
    /// Where data-path sockets, pid files and logs live.
    public var runDirectory: String
    /// Where XAPI answers XenAPI calls (`unix:/path` or `http://host:port`), for mirroring
    /// changes into its database when a call carries a session.
    public var xapiEndpoint = XenAPIEndpoint.xapiLocal.description
    public var xapiTimeoutSeconds = XenAPIClient.defaultTimeoutSeconds

    public init(srType: String, engineOptions: EngineOptions = EngineOptions(), tapdiskPath: String? = nil,
                runDirectory: String = PluginEnvironment.defaultRunDirectory) {
        self.srType = srType
        self.engineOptions = engineOptions
        self.tapdiskPath = tapdiskPath
        self.runDirectory = runDirectory
    }

    public static let defaultRunDirectory = "/run/sm-plugin"

    /// The SR type an executable named `<Name>SR` drives, as XAPI derives it (`FileSR` → `file`);
    /// nil for any other name or a type the engine has no driver for.
    public static func srType(forExecutable path: String) -> String? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard name.hasSuffix("SR"), name.count > 2 else { return nil }
        let type = String(name.dropLast(2)).lowercased()
        return SRManager.drivers[type] == nil ? nil : type
    }

    /// The environment of a real invocation: `SM_LOCK_DIR` (lock root, default: inside the SR,
    /// as sm-cli), `SM_FAKE_FREE_BYTES` (caps free space, for tests), `SM_TAPDISK` (the daemon,
    /// default: `sm-tapdisk` next to the invoked link, then next to the real binary),
    /// `SM_GC_KICK` (`background`, the default: sm-gc next to the plugin after vdi_delete and
    /// sr_scan, as SM starts cleanup.py; `synchronous`; `none`), `SM_GC_WORKER` (sm-gc's path),
    /// `SM_RUN_DIR` (default /run/sm-plugin), `SM_XAPI_URL` (XAPI's XenAPI endpoint, default
    /// xapi's local socket unix:/var/lib/xcp/xapi), `SM_XAPI_TIMEOUT` (seconds per XenAPI call).
    public static func from(executable: String, srType: String, environment: [String: String]) -> PluginEnvironment {
        var options = EngineOptions(lockDirectory: environment["SM_LOCK_DIR"].flatMap { $0.isEmpty ? nil : $0 })
        if let fake = environment["SM_FAKE_FREE_BYTES"].flatMap({ UInt64($0) }) {
            options.freeSpace = .capped(freeBytes: fake)
        }
        options.gcKick = environment["SM_GC_KICK"].flatMap(GCKick.init(rawValue:)) ?? .background
        options.backgroundWorker = (environment["SM_GC_WORKER"] ?? locateSibling("sm-gc", executable: executable))
            .map(BackgroundWorker.init)
        let tapdisk: String?
        if let explicit = environment["SM_TAPDISK"] {
            tapdisk = FileManager.default.isExecutableFile(atPath: explicit) ? explicit : nil
        } else {
            tapdisk = locateSibling("sm-tapdisk", executable: executable)
        }
        let run = environment["SM_RUN_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultRunDirectory
        var env = PluginEnvironment(srType: srType, engineOptions: options, tapdiskPath: tapdisk, runDirectory: run)
        if let url = environment[XenAPIEndpoint.environmentKey], !url.isEmpty { env.xapiEndpoint = url }
        if let seconds = environment["SM_XAPI_TIMEOUT"].flatMap(Double.init), seconds > 0 { env.xapiTimeoutSeconds = seconds }
        return env
    }

    /// `sm-tapdisk` in the directory of the invoked name (the SM directory), else next to
    /// the resolved binary.
    /// A tool installed next to the invoked link, else next to the real binary.
    static func locateSibling(_ tool: String, executable: String) -> String? {
        var dirs: [String] = []
        if executable.contains("/") { dirs.append((executable as NSString).deletingLastPathComponent) }
        if let real = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            dirs.append((real as NSString).deletingLastPathComponent)
        }
        for dir in dirs {
            let candidate = (dir.isEmpty ? "." : dir) + "/" + tool
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
