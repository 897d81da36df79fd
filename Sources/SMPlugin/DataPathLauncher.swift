import Foundation
import Glibc
import SREngine

/// Starts and stops the data-path daemon (`sm-tapdisk serve`) that exports one VDI over NBD,
/// outliving the plugin invocation that started it (as tapdisk outlives SM's commands).
///
/// Per VDI, in `<run>/<sr-uuid>/`: `<vdi>.sock` (the NBD socket), `<vdi>.pid`, `<vdi>.log`
/// (the daemon's stdout and stderr: never the plugin's stdout, which carries the response
/// and must reach EOF when the plugin exits).
struct DataPathLauncher {
    let directory: String
    let vdi: String

    init(runDirectory: String, sr: String, vdi: String) {
        directory = runDirectory + "/" + sr
        self.vdi = vdi
    }

    var socketPath: String { "\(directory)/\(vdi).sock" }
    var pidPath: String { "\(directory)/\(vdi).pid" }
    var logPath: String { "\(directory)/\(vdi).log" }
    var lockPath: String { "\(directory)/\(vdi).lock" }
    static let lockTimeoutSeconds = 60.0

    /// Runs `body` holding this VDI's data-path lock, so an attach, a detach and a command
    /// that swaps the image never interleave (two plugins run at once for one VDI).
    func exclusively<T>(_ body: () throws -> T) throws -> T {
        let lock = LockFile(path: lockPath)
        guard try lock.acquire(timeout: Self.lockTimeoutSeconds) else {
            throw SREngineError.lockFailed(path: lockPath, detail: "timed out")
        }
        defer { lock.release() }
        return try body()
    }
    /// sockaddr_un's sun_path holds 108 bytes, terminator included.
    static let socketPathBytesMax = 107
    static let startTimeoutSeconds = 10.0
    static let stopTimeoutSeconds = 5.0

    /// The daemon serving this VDI, if one is alive (its command line names our socket).
    func runningPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: pidPath, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return nil }
        guard Self.isAlive(pid), let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: cmdline, as: UTF8.self).contains(socketPath) else { return nil }
        return pid
    }

    /// Starts `tapdisk serve` on `file` unless it already runs; returns when it accepts connections.
    func start(tapdisk: String, file: String, readOnly: Bool) throws {
        try exclusively { try startLocked(tapdisk: tapdisk, file: file, readOnly: readOnly) }
    }

    private func startLocked(tapdisk: String, file: String, readOnly: Bool) throws {
        if runningPID() != nil { return }
        guard socketPath.utf8.count <= Self.socketPathBytesMax else {
            throw SREngineError.vdiUnavailable(uuid: vdi, detail: "socket path \(socketPath) is longer than a Unix socket allows")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        for path in [socketPath, pidPath, logPath] { unlink(path) }
        var args = [tapdisk, "serve", "--socket", socketPath, "--export", vdi]
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
    func stop() throws {
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
        for path in [socketPath, pidPath, logPath] { unlink(path) }
    }

    private func failure(_ what: String) -> SREngineError {
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        let tail = log.split(separator: "\n").suffix(5).joined(separator: " | ")
        return .vdiUnavailable(uuid: vdi, detail: tail.isEmpty ? what : "\(what): \(tail)")
    }

    /// True while `pid` runs (a zombie child of this process is reaped and counts as gone).
    static func isAlive(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return false }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        if let stat = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
           let close = String(decoding: stat, as: UTF8.self).range(of: ") ", options: .backwards) {
            let state = String(decoding: stat, as: UTF8.self)[close.upperBound...].prefix(1)
            if state == "Z" || state == "X" { return false }
        }
        return true
    }

    /// glibc's POSIX_SPAWN_SETSID (behind _GNU_SOURCE, so not imported into Swift).
    static let spawnSetSID: Int16 = 0x80

    /// Keeps every descriptor above stderr out of the daemon (a pipe inherited from XAPI
    /// would hold its read of our output open for the daemon's lifetime).
    static func markDescriptorsCloseOnExec() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for fd in entries.compactMap({ Int32($0) }) where fd > 2 {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// posix_spawn in a new session, stdin from /dev/null, stdout and stderr to the log,
    /// and no other descriptor of ours.
    private func spawn(_ args: [String]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Self.spawnSetSID)
        Self.markDescriptorsCloseOnExec()
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, args[0], &actions, &attributes, argv, environ)
        guard rc == 0 else {
            throw SREngineError.vdiUnavailable(uuid: vdi, detail: "cannot start \(args[0]): \(String(cString: strerror(rc)))")
        }
        return pid
    }
}
