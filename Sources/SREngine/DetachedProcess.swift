import Foundation
import Glibc

/// Starting a process that outlives its starter (the data-path daemon, the background
/// collector), as SM starts tapdisk and `cleanup.py -b`: a new session, stdin from
/// /dev/null, stdout and stderr to a log, and no other descriptor of ours.
public enum DetachedProcess {
    /// glibc's POSIX_SPAWN_SETSID (behind _GNU_SOURCE, so not imported into Swift).
    static let spawnSetSID: Int16 = 0x80

    /// Starts `arguments` (argv[0] a path); returns its pid. `truncateLog` starts a fresh log,
    /// otherwise it is appended to.
    public static func spawn(_ arguments: [String], logPath: String, truncateLog: Bool) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | (truncateLog ? O_TRUNC : O_APPEND), 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, spawnSetSID)
        markDescriptorsCloseOnExec()
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard rc == 0 else { throw SREngineError.system(operation: "posix_spawn", path: arguments[0], errno: rc) }
        return pid
    }

    /// True while `pid` runs (a zombie child of this process is reaped and counts as gone).
    public static func isAlive(_ pid: pid_t) -> Bool {
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

    /// The directory of the running executable: where its sibling tools are installed.
    public static func ownDirectory() -> String? {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        return (path as NSString).deletingLastPathComponent
    }

    /// Keeps every descriptor above stderr out of the child (a pipe inherited from XAPI
    /// would hold its read of our output open for the child's lifetime).
    static func markDescriptorsCloseOnExec() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for fd in entries.compactMap({ Int32($0) }) where fd > 2 {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }
}
