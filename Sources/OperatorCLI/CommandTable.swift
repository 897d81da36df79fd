/// A command: its name, what it does, the parameters and maps it accepts, and its body.
struct CommandSpec: Sendable {
    var name: String
    var summary: String
    var keys: [String]
    var maps: [String] = []
    var run: @Sendable (CommandContext) throws -> Void
}

/// Every command sm-cli knows, in help order.
enum CommandTable {
    static let all: [CommandSpec] = SRCommands.all + [GCCommand.spec] + VDICommands.all + TapCommands.all + TransferCommands.all + [DemoJob.spec]

    static func find(_ name: String) -> CommandSpec? { all.first { $0.name == name } }

    static func help() -> String {
        var lines = ["usage: sm-cli COMMAND key=value ... [device-config:KEY=VALUE ...] [--json] [--registry PATH]", "",
                     "commands:"]
        for c in all {
            let keys = (c.keys + c.maps.map { "\($0):KEY" }).joined(separator: " ")
            lines.append("  \(c.name.padding(14))\(c.summary)")
            if !keys.isEmpty { lines.append("  \("".padding(14))  \(keys)") }
        }
        lines += ["", "sizes: bytes or 64MiB, 10GiB, 2TiB.  registry: --registry, $SM_REGISTRY,",
                  "else $XDG_STATE_HOME/sm-cli/registry.json or ~/.local/state/sm-cli/registry.json.",
                  "data path: daemons in $SM_RUN_DIR, else /run/sm-plugin (root) or $XDG_RUNTIME_DIR/sm-plugin;",
                  "sm-tapdisk next to sm-cli unless $SM_TAPDISK.",
                  "locks: under each SR (<sr>/.sm/lock) unless --lock-dir or $SM_LOCK_DIR (SM uses /var/lock/sm).",
                  "gc: vdi-destroy and sr-scan run the garbage collector before returning ($SM_GC_KICK=none: they do not)."]
        return lines.joined(separator: "\n")
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
