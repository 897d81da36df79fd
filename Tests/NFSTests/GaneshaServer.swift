import Foundation
import Glibc
import NFSStore
import Synchronization
import Testing

/// Every suite that starts a server, one test at a time (2 vCPUs; servers and daemons).
@Suite(.serialized, .enabled(if: GaneshaServer.unavailableReason == nil, "\(GaneshaServer.unavailableReason ?? "")"))
struct NFSServerTests {}

/// An nfs-ganesha on loopback for one test, started through the project's
/// `scripts/nfs-server.sh` and stopped by the pids it recorded. `start` returns nil (the
/// test then skips, saying why) only when ganesha is not installed and cannot be.
final class GaneshaServer {
    let directory: String
    let port: Int
    private(set) var pid: Int32

    /// The exported directory on this machine (the server's `/export`).
    var exportDirectory: String { directory + "/export" }

    private static let nextPort = Atomic<Int>(0)
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static var script: String { repositoryRoot + "/scripts/nfs-server.sh" }

    /// Why servers cannot run here, or nil when they can (installs the packages once).
    static let unavailableReason: String? = {
        if getuid() != 0 { return "nfs-ganesha needs root (its VFS backend and private namespaces)" }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/ganesha.nfsd") { return nil }
        _ = try? run("/bin/bash", [repositoryRoot + "/scripts/install-deps.sh"])
        return FileManager.default.isExecutableFile(atPath: "/usr/bin/ganesha.nfsd")
            ? nil : "nfs-ganesha is not installed and scripts/install-deps.sh could not install it"
    }()

    /// A distinct port pair per server of this process (several test processes may run).
    static func freshPort() -> Int {
        24000 + Int(getpid() % 400) * 20 + 2 * nextPort.wrappingAdd(1, ordering: .relaxed).oldValue % 20
    }

    private init(directory: String, port: Int, pid: Int32) {
        self.directory = directory
        self.port = port
        self.pid = pid
    }

    static func start(in directory: String, port: Int = freshPort()) throws -> GaneshaServer {
        let server = GaneshaServer(directory: directory, port: port, pid: 0)
        try server.launch()
        return server
    }

    private func launch() throws {
        let out = try Self.run("/bin/bash", [Self.script, "start", directory, String(port)])
        guard out.status == 0, let first = out.output.split(separator: "\n").last?.split(separator: " ").first,
              let p = Int32(first) else {
            throw ServerError(message: "nfs-server.sh start failed (\(out.status)): \(out.output)")
        }
        pid = p
    }

    /// Stops ganesha and its rpcbind by the pids the script recorded: SIGKILL unless
    /// `graceful` (ganesha lingers ~6 s on SIGTERM while a client stays connected).
    func stop(graceful: Bool = false) {
        _ = try? Self.run("/bin/bash", [Self.script, "stop", directory, graceful ? "10" : "0"])
    }

    /// Kills ganesha at once (a crash), leaving its rpcbind for the next start to clean up.
    func kill9() {
        Glibc.kill(pid, SIGKILL)
        for _ in 0..<100 where Self.alive(pid) { usleep(20_000) }
    }

    func restart(graceful: Bool = true) throws {
        stop(graceful: graceful)
        try launch()
    }

    static func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !stat.contains(") Z ")
    }

    func nfsServer(version: NFSVersion = .v3, timeo: Int = 50, retrans: Int = 2) -> NFSServer {
        NFSServer(host: "127.0.0.1", version: version, nfsPort: port, mountPort: port + 1,
                  softMount: NFSSoftMount(timeoDeciseconds: timeo, retrans: retrans))
    }

    func deviceConfig(serverPath: String? = "/export", version: String = "3", options: String = "timeo=50,retrans=2") -> [String: String] {
        var c = ["server": "127.0.0.1", "nfsversion": version, "options": options,
                 "nfsport": String(port), "mountport": String(port + 1)]
        if let serverPath { c["serverpath"] = serverPath }
        return c
    }

    struct ServerError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Runs a command and returns its stdout. posix_spawn and waitpid rather than Foundation's
    /// Process, which can miss the exit of a child whose own children outlive it.
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let outPath = "/tmp/nfs-server-out.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(outPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw ServerError(message: "cannot run \(executable): errno \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        return ((status >> 8) & 0xff, output)
    }
}
