import Glibc
import SREngine
import TapControl

/// Everything a command needs: its arguments, output, the host registry and the engine.
final class CommandContext {
    let args: CLIArguments
    let out: CLIOutput
    let registry: HostRegistry
    let manager: SRManager
    let environment: [String: String]
    /// Where data-path daemons' sockets live (`RunDirectory.resolve`).
    let runDirectory: String
    private var attached: [String: AttachedSR] = [:]

    init(args: CLIArguments, out: CLIOutput, environment: [String: String]) {
        self.args = args
        self.out = out
        self.environment = environment
        runDirectory = RunDirectory.resolve(environment: environment)
        registry = HostRegistry(path: args.flagValues["registry"] ?? HostRegistry.defaultPath(environment: environment))
        manager = SRManager(options: Self.engineOptions(args: args, environment: environment))
    }

    /// Engine options from flags and the environment, including the test hooks:
    /// `SM_FAKE_FREE_BYTES` caps the free space the engine sees, `SM_KILL_AT_STEP=name`
    /// kills the process with SIGKILL just before that step, `SM_STEP_DELAY_US` sleeps
    /// before every step (to widen windows for random kills).
    static func engineOptions(args: CLIArguments, environment: [String: String]) -> EngineOptions {
        var options = EngineOptions(lockDirectory: args.flagValues["lock-dir"] ?? environment["SM_LOCK_DIR"])
        // Snapshot, clone and resize pause the daemon serving the VDI, if one does.
        options.dataPath = TapDataPathControl(runDirectory: RunDirectory.resolve(environment: environment))
        // After vdi-destroy, sr-scan and snapshots that used blanks: sm-gc in the background.
        options.gcKick = environment["SM_GC_KICK"].flatMap(GCKick.init(rawValue:)) ?? .background
        options.backgroundWorker = environment["SM_GC_WORKER"].map(BackgroundWorker.init) ?? .besideSelf()
        if let fake = environment["SM_FAKE_FREE_BYTES"].flatMap(SizeText.parse) {
            options.freeSpace = .capped(freeBytes: fake)
        }
        let killAt = environment["SM_KILL_AT_STEP"]
        let delay = environment["SM_STEP_DELAY_US"].flatMap { UInt32($0) }
        if killAt != nil || delay != nil {
            options.stepHook = { step in
                if let delay { usleep(delay) }
                if step == killAt { kill(getpid(), SIGKILL) }
            }
        }
        return options
    }

    /// Attaches a registered SR (once per invocation).
    func sr(_ uuid: String) throws -> AttachedSR {
        if let sr = attached[uuid] { return sr }
        let entry = try registry.entry(uuid)
        let sr = try manager.attach(uuid: uuid, type: entry.type, deviceConfig: entry.deviceConfig)
        attached[uuid] = sr
        return sr
    }

    /// The SR holding VDI `uuid`: the one named by `sr-uuid=`, else the first registered SR
    /// that knows it.
    func srHolding(vdi uuid: String) throws -> (AttachedSR, VDIRecord) {
        let candidates = try args.params["sr-uuid"].map { [$0] } ?? registry.load().keys.sorted()
        for sruuid in candidates {
            guard let sr = try? sr(sruuid) else {
                if args.params["sr-uuid"] != nil { _ = try sr(sruuid) }
                continue
            }
            if let record = try? sr.vdi(uuid) { return (sr, record) }
        }
        throw SREngineError.vdiNotFound(uuid: uuid)
    }

    func size(_ keys: String...) throws -> UInt64 {
        guard let key = keys.first(where: { args.params[$0] != nil }), let text = args.params[key] else {
            throw CLIError.missingParameter(keys[0])
        }
        guard let v = SizeText.parse(text) else {
            throw CLIError.usage("\(key)=\(text): not a size (bytes, or a number with KiB, MiB, GiB, TiB)")
        }
        return v
    }

    func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let text = args.params[key] else { return value }
        switch text.lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: throw CLIError.usage("\(key)=\(text): expected true or false")
        }
    }

    /// A new object's uuid: alone on a line, or `{"uuid": ...}` with --json.
    func printUUID(_ uuid: String) {
        if args.json { out.json(["uuid": uuid]) } else { out.line(uuid) }
    }
}
