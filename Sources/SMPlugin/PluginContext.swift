import SREngine

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
        manager = SRManager(options: environment.engineOptions)
    }

    func log(_ line: String) { diagnostics.append(line) }

    /// Opens the call's SR (finishing interrupted operations first, as every attach does).
    func attachSR() throws -> AttachedSR {
        try manager.attach(uuid: try call.requireSR(), type: environment.srType, deviceConfig: call.driverConfig)
    }
}
