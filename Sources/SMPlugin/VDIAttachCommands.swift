import SREngine
import TapControl
import XMLRPC

/// vdi_attach / activate / deactivate / detach: the VDI served over NBD by sm-tapdisk.
///
/// Kept apart from the other commands because the daemon is young: attach starts it and
/// answers the struct XAPI requires (`params_nbd` above all); without the daemon installed,
/// attach is refused with VDIUnavailable and everything else in the plugin still works.
enum VDIAttachCommands {
    static func launcher(_ c: PluginContext) throws -> DataPathLauncher {
        DataPathLauncher(runDirectory: c.environment.runDirectory, sr: try c.call.requireSR(), vdi: try c.call.requireVDI())
    }

    /// vdi_attach: args[0] = writable (`true`/`false`); vdi_attach_from_config has no args and
    /// attaches writable (HA statefile, redo log).
    static func attach(_ c: PluginContext) throws -> XMLRPCValue {
        let vdi = try c.call.requireVDI()
        let writable = c.call.args.first.map { $0 == "true" } ?? true
        let l = try DataPathLauncher.attach(try c.attachSR(), vdi: vdi, writable: writable, tapdisk: c.environment.tapdiskPath,
                                            runDirectory: c.environment.runDirectory)
        c.log("vdi_attach: \(vdi) served on \(l.socketPath)")
        return .structure([
            ("params", .string(l.nbdURI)),
            ("params_nbd", .string("nbd:unix:\(l.socketPath):exportname=\(vdi)")),
            ("o_direct", .bool(true)),
            ("o_direct_reason", .string("")),
            ("xenstore_data", .structure([])),
        ])
    }

    /// vdi_activate: the daemon already serves the VDI from attach; checks it still exists.
    static func activate(_ c: PluginContext) throws -> XMLRPCValue {
        _ = try c.attachSR().vdi(try c.call.requireVDI())
        return .nil
    }

    static func deactivate(_ c: PluginContext) throws -> XMLRPCValue {
        _ = try c.call.requireVDI()
        return .nil
    }

    /// vdi_detach: stops the daemon; idempotent, and does not need the SR to be readable.
    static func detach(_ c: PluginContext) throws -> XMLRPCValue {
        try launcher(c).stop()
        return .nil
    }
}
