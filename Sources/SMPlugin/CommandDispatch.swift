import SMErrors
import SREngine
import XMLRPC

/// The plugin's core: one decoded call in, one response or fault out, with no process,
/// argv or stdout involved (tests drive it directly; `PluginInvocation` wraps it for argv).
public enum CommandDispatch {
    /// Commands XAPI sends only to the SR master (it raises MasterOnly elsewhere); a call
    /// reaching a slave anyway is refused rather than racing the master on shared metadata.
    public static let masterOnly: Set<String> = [
        "sr_scan", "vdi_create", "vdi_delete", "vdi_snapshot", "vdi_clone", "vdi_resize", "vdi_resize_online",
        "vdi_compose", "vdi_enable_cbt", "vdi_disable_cbt", "vdi_data_destroy", "vdi_list_changed_blocks",
    ]

    /// Every command this plugin answers; anything else is Unimplemented (38).
    public static let implemented: Set<String> = [
        "sr_get_driver_info", "sr_create", "sr_delete", "sr_attach", "sr_detach", "sr_scan", "sr_probe",
        "sr_update", "sr_content_type",
        "vdi_create", "vdi_delete", "vdi_introduce", "vdi_update", "vdi_snapshot", "vdi_clone", "vdi_resize",
        "vdi_resize_online", "vdi_generate_config", "vdi_epoch_begin", "vdi_epoch_end", "vdi_compose",
        "vdi_attach", "vdi_activate", "vdi_detach", "vdi_deactivate",
        "vdi_attach_from_config", "vdi_detach_from_config",
    ]

    public static func handle(_ call: PluginCall, environment: PluginEnvironment) -> PluginOutcome {
        let context = PluginContext(call: call, environment: environment)
        do {
            guard implemented.contains(call.command) else { throw PluginError.unimplemented(command: call.command) }
            if masterOnly.contains(call.command) && !call.isMaster { throw PluginError.notMaster(command: call.command) }
            let result = try run(context)
            return PluginOutcome(message: .response(result), diagnostics: context.diagnostics)
        } catch {
            let sm = mapped(error, command: call.command)
            if let document = SRCommands.failureDocument(error) {
                return PluginOutcome(message: .fault(code: sm.code, string: sm.message), diagnostics: [String(document.dropLast())])
            }
            context.log("\(call.command) failed: \(sm.name) (\(sm.code)): \(sm.message)")
            return PluginOutcome(message: .fault(code: sm.code, string: sm.message), diagnostics: context.diagnostics)
        }
    }

    static func run(_ c: PluginContext) throws -> XMLRPCValue {
        switch c.call.command {
        case "sr_get_driver_info": return try DriverInfo.value(srType: c.environment.srType)
        case "sr_create": return try SRCommands.create(c)
        case "sr_delete": return try SRCommands.delete(c)
        case "sr_attach": return try SRCommands.attach(c)
        case "sr_detach": return try SRCommands.detach(c)
        case "sr_scan": return try SRCommands.scan(c)
        case "sr_probe": return try SRCommands.probe(c)
        case "sr_update": return try SRCommands.update(c)
        case "sr_content_type": return .string("vhd")
        case "vdi_create": return try VDICommands.create(c)
        case "vdi_delete": return try VDICommands.delete(c)
        case "vdi_introduce": return try VDICommands.introduce(c)
        case "vdi_update": return try VDICommands.update(c)
        case "vdi_snapshot": return try VDICommands.snapshot(c, clone: false)
        case "vdi_clone": return try VDICommands.snapshot(c, clone: true)
        // Online: XAPI resizes an attached VDI; the engine pauses its daemon around the grow.
        case "vdi_resize", "vdi_resize_online": return try VDICommands.resize(c)
        case "vdi_generate_config": return try VDICommands.generateConfig(c)
        case "vdi_compose": return try VDICommands.compose(c)
        case "vdi_epoch_begin", "vdi_epoch_end": return try VDICommands.epoch(c)
        case "vdi_attach", "vdi_attach_from_config": return try VDIAttachCommands.attach(c)
        case "vdi_activate": return try VDIAttachCommands.activate(c)
        case "vdi_detach", "vdi_detach_from_config": return try VDIAttachCommands.detach(c)
        case "vdi_deactivate": return try VDIAttachCommands.deactivate(c)
        default: throw PluginError.unimplemented(command: c.call.command)
        }
    }

    /// The SM error for `error`. As SM's SRCommand does, a general backend failure is
    /// reported as the command's own error (vdi_create → VDICreate, ...), which tells the
    /// operator what failed; specific errors (VDIMissing, SRNoSpace...) keep their code.
    static func mapped(_ error: any Error, command: String) -> SMError {
        let sm = SMErrorTable.map(error)
        guard !(error is PluginError), sm.code == 202, let specific = commandError(command) else { return sm }
        let detail = sm.message.range(of: "[opterr=").map { String(sm.message[$0.upperBound...].dropLast()) } ?? sm.message
        return SMErrorTable.sm(specific.name, specific.code, specific.text, detail)
    }

    static func commandError(_ command: String) -> (name: String, code: Int, text: String)? {
        switch command {
        case "sr_scan": ("SRScan", 40, "The SR scan failed")
        case "vdi_create": ("VDICreate", 78, "VDI Creation failed")
        case "vdi_delete": ("VDIDelete", 80, "VDI deletion failed")
        case "vdi_attach", "vdi_detach", "vdi_activate", "vdi_deactivate":
            ("VDIUnavailable", 46, "Unable to attach or use the VDI")
        case "vdi_resize", "vdi_resize_online": ("VDIResize", 110, "The VDI resize operation failed")
        case "vdi_snapshot": ("VDISnapshot", 82, "Failed to snapshot VDI")
        case "vdi_clone": ("VDIClone", 81, "Failed to clone VDI")
        default: nil
        }
    }
}
