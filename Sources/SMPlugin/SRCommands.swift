import SREngine
import XMLRPC

/// The SR commands. XAPI keeps the SR's records itself and passes device_config on every
/// call, so each command opens the SR from the call alone: nothing is remembered between
/// invocations except what the SR holds.
enum SRCommands {
    /// sr_create: makes the SR's namespace (args[0], the physical size, means nothing for a
    /// directory). The name lives in XAPI's database, so the SR's own label stays empty.
    static func create(_ c: PluginContext) throws -> XMLRPCValue {
        let uuid = try c.call.requireSR()
        _ = try c.manager.create(type: c.environment.srType, deviceConfig: c.call.driverConfig, nameLabel: "", uuid: uuid)
        return .nil
    }

    /// sr_delete: removes an empty SR (SRNotEmpty while VDIs, base copies included, remain).
    static func delete(_ c: PluginContext) throws -> XMLRPCValue {
        try c.manager.destroy(try c.attachSR())
        return .nil
    }

    /// sr_attach: opens the SR, finishing or undoing operations a crash interrupted.
    static func attach(_ c: PluginContext) throws -> XMLRPCValue {
        let sr = try c.attachSR()
        for line in sr.recoveryLog { c.log("recovery: \(line)") }
        // SM scans after attaching on the master, so XAPI learns what the SR holds.
        if c.call.isMaster { c.mirror?.synchronise(sr) }
        return .nil
    }

    /// sr_detach: nothing stays open between calls, so detaching only checks the call is
    /// well-formed; it succeeds even if the SR is gone (XAPI must be able to unplug it).
    static func detach(_ c: PluginContext) throws -> XMLRPCValue {
        _ = try c.call.requireSR()
        if c.call.driverConfig["location"].map(\.isEmpty) ?? true, c.environment.srType == "file" {
            throw SREngineError.configMissing(key: "location")
        }
        return .nil
    }

    /// sr_scan: reconciles the SR's records with the images present (changes go to stderr),
    /// then XAPI's records with the SR's.
    static func scan(_ c: PluginContext) throws -> XMLRPCValue {
        let sr = try c.attachSR()
        for change in try sr.scan() { c.log("scan: \(change)") }
        c.mirror?.synchronise(sr)
        return .nil
    }

    /// sr_probe: the SRs found where device_config points, as XenServer's SRlist XML. An NFS
    /// probe without `serverpath` fails (ConfigServerPathMissing) with the server's exports
    /// as the `<nfs-exports>` document on stderr, and nothing else there (see CommandDispatch).
    static func probe(_ c: PluginContext) throws -> XMLRPCValue {
        let uuids = try c.manager.probe(type: c.environment.srType, deviceConfig: c.call.driverConfig)
        return .string(ProbeXML.srList(uuids.sorted()))
    }

    /// The stderr XenServer gives a failed command instead of its log lines, if any.
    static func failureDocument(_ error: any Error) -> String? {
        guard case let .serverPathMissing(server, exports)? = error as? NFSSRError else { return nil }
        return ProbeXML.nfsExports(server: server, paths: exports)
    }

    /// sr_update: refreshes space accounting; the figures go to stderr and to XAPI's SR record.
    static func update(_ c: PluginContext) throws -> XMLRPCValue {
        let stats = try c.attachSR().update()
        c.log("sr_update: physical_size=\(stats.physicalSize) physical_utilisation=\(stats.physicalUtilisation) "
              + "virtual_allocation=\(stats.virtualAllocation) vdis=\(stats.vdiCount)")
        c.mirror?.srFigures(stats)
        return .nil
    }
}
