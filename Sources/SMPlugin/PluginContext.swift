import SREngine
import TapControl

/// What a command runs with: the call, the environment, the engine, and the lines meant for
/// stderr (XAPI captures stderr and shows it with a failure; probe data also travels there).
final class PluginContext {
    let call: PluginCall
    let environment: PluginEnvironment
    let manager: SRManager
    private(set) var diagnostics: [String] = []

    init(call: PluginCall, environment: PluginEnvironment) {
        self.call = call
        self.environment = environment
        var options = environment.engineOptions
        // Snapshot, clone and resize pause the daemon serving the VDI, if one does.
        if options.dataPath == nil { options.dataPath = TapDataPathControl(runDirectory: environment.runDirectory) }
        manager = SRManager(options: options)
    }

    func log(_ line: String) { diagnostics.append(line) }

    /// The mirror into XAPI's database; nil without a session (the plugin then works alone).
    private(set) lazy var mirror: XAPIMirror? = XAPIMirror(call: call, environment: environment) { [unowned self] in
        self.log($0)
    }

    /// Runs a command that changes `sr`'s VDIs, then mirrors what changed into XAPI.
    func mirroring<T>(_ sr: AttachedSR, _ body: () throws -> T) throws -> T {
        guard let mirror else { return try body() }
        let before = try sr.vdis()
        let result = try body()
        mirror.commandDone(sr, before: before)
        return result
    }

    /// Opens the call's SR (finishing interrupted operations first, as every attach does).
    func attachSR() throws -> AttachedSR {
        try manager.attach(uuid: try call.requireSR(), type: environment.srType, deviceConfig: call.driverConfig)
    }
}
