import DataPath
import Foundation
import Glibc
import SREngine

/// Starts and stops the data-path daemon (`sm-tapdisk serve`) that exports one VDI over NBD,
/// outliving the plugin invocation that started it (as tapdisk outlives SM's commands).
///
/// Per VDI, in `<run>/<sr-uuid>/`: `<vdi>.sock` (the NBD socket), `<vdi>.ctl` (its control
/// socket), `<vdi>.pid`, `<vdi>.lock`, `<vdi>.log` (the daemon's stdout and stderr: never
/// the caller's stdout, which carries the plugin's response and must reach EOF when the
/// plugin exits).
public struct DataPathLauncher: Sendable {
    public let directory: String
    public let sr: String
    public let vdi: String

    public init(runDirectory: String, sr: String, vdi: String) {
        directory = runDirectory + "/" + sr
        self.sr = sr
        self.vdi = vdi
    }

    public var socketPath: String { "\(directory)/\(vdi).sock" }
    public var controlPath: String { "\(directory)/\(vdi).ctl" }
    public var pidPath: String { "\(directory)/\(vdi).pid" }
    public var logPath: String { "\(directory)/\(vdi).log" }
    public var lockPath: String { "\(directory)/\(vdi).lock" }
    /// What a client connects to: the export is named after the VDI.
    public var nbdURI: String { "nbd+unix:///\(vdi)?socket=\(socketPath)" }
    public var control: TapControlClient { TapControlClient(socketPath: controlPath) }
    public static let lockTimeoutSeconds = 60.0

    /// Runs `body` holding this VDI's data-path lock, so an attach, a detach and a pause
    /// never interleave (two plugins, or a plugin and sm-cli, run at once for one VDI).
    public func exclusively<T>(_ body: () throws -> T) throws -> T {
        let lock = try acquireLock()
        defer { lock.release() }
        return try body()
    }

    /// The data-path lock, held until the caller releases it (pause holds it until unpause).
    func acquireLock() throws -> LockFile {
        let lock = LockFile(path: lockPath)
        guard try lock.acquire(timeout: Self.lockTimeoutSeconds) else {
            throw SREngineError.lockFailed(path: lockPath, detail: "timed out")
        }
        return lock
    }

    static let startTimeoutSeconds = 10.0
    static let stopTimeoutSeconds = 5.0

    /// The daemon serving this VDI, if one is alive (its command line names our socket).
    public func runningPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: pidPath, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return nil }
        guard Self.isAlive(pid), let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: cmdline, as: UTF8.self).contains(socketPath) else { return nil }
        return pid
    }

    /// Starts `tapdisk serve` on `file` unless it already runs; returns when it accepts connections.
    public func start(tapdisk: String, file: String, readOnly: Bool) throws {
        try exclusively { try startLocked(tapdisk: tapdisk, file: file, readOnly: readOnly) }
    }

    private func startLocked(tapdisk: String, file: String, readOnly: Bool) throws {
        if runningPID() != nil { return }
        guard controlPath.utf8.count <= DataPathLimits.unixPathBytesMax else {
            throw SREngineError.vdiUnavailable(uuid: vdi, detail: "socket path \(socketPath) is longer than a Unix socket allows")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        for path in [socketPath, controlPath, pidPath, logPath] { unlink(path) }
        var args = [tapdisk, "serve", "--socket", socketPath, "--control", controlPath, "--export", vdi]
        if readOnly { args.append("--read-only") }
        args.append(file)
        let pid = try spawn(args)
        let deadline = Date().addingTimeInterval(Self.startTimeoutSeconds)
        while Date() < deadline {
            if let log = try? String(contentsOfFile: logPath, encoding: .utf8), log.contains("nbd+unix:") {
                try "\(pid)\n".write(toFile: pidPath, atomically: true, encoding: .utf8)
                return
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { throw failure("sm-tapdisk exited during start-up") }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, nil, 0)
        throw failure("sm-tapdisk did not start serving within \(Int(Self.startTimeoutSeconds)) s")
    }

    /// Stops the daemon (SIGTERM, then SIGKILL) and removes its files; nothing running is fine.
    public func stop() throws {
        try exclusively { stopLocked() }
    }

    private func stopLocked() {
        if let pid = runningPID() {
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(Self.stopTimeoutSeconds)
            while Self.isAlive(pid) && Date() < deadline { usleep(10_000) }
            if Self.isAlive(pid) {
                kill(pid, SIGKILL)
                while Self.isAlive(pid) { usleep(10_000) }
            }
        }
        for path in [socketPath, controlPath, pidPath, logPath] { unlink(path) }
    }

    private func failure(_ what: String) -> SREngineError {
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        let tail = log.split(separator: "\n").suffix(5).joined(separator: " | ")
        return .vdiUnavailable(uuid: vdi, detail: tail.isEmpty ? what : "\(what): \(tail)")
    }

    /// True while `pid` runs (a zombie child of this process is reaped and counts as gone).
    public static func isAlive(_ pid: pid_t) -> Bool { DetachedProcess.isAlive(pid) }

    /// The daemon in a new session, stdin from /dev/null, stdout and stderr to the log.
    private func spawn(_ args: [String]) throws -> pid_t {
        do {
            return try DetachedProcess.spawn(args, logPath: logPath, truncateLog: true)
        } catch {
            throw SREngineError.vdiUnavailable(uuid: vdi, detail: "cannot start \(args[0]): \(error)")
        }
    }
}
