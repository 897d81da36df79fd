import DataPath
import SREngine
import TapControl

/// vdi-attach, vdi-detach and the data-path daemon's controls: tap-list, tap-stats,
/// tap-pause, tap-unpause. Daemons live in the run directory (`RunDirectory`): `$SM_RUN_DIR`,
/// else the plugin's `/run/sm-plugin` for root, so sm-cli sees what XAPI attached.
enum TapCommands {
    static let all: [CommandSpec] = [
        CommandSpec(name: "vdi-attach", summary: "serve a VDI over NBD (sm-tapdisk); prints the NBD URI",
                    keys: ["uuid", "sr-uuid", "read-only"], run: attach),
        CommandSpec(name: "vdi-detach", summary: "stop serving a VDI", keys: ["uuid", "sr-uuid"], run: detach),
        CommandSpec(name: "tap-list", summary: "the data-path daemons and what they serve", keys: ["sr-uuid", "params"], run: list),
        CommandSpec(name: "tap-stats", summary: "requests, bytes, errors and latency percentiles per NBD command",
                    keys: ["uuid", "sr-uuid"], run: stats),
        CommandSpec(name: "tap-pause", summary: "drain a VDI's requests and close its image (clients wait)",
                    keys: ["uuid", "sr-uuid"], run: pause),
        CommandSpec(name: "tap-unpause", summary: "reopen a paused VDI's image and resume",
                    keys: ["uuid", "sr-uuid"], run: unpause),
    ]

    static func attach(_ c: CommandContext) throws {
        let (sr, r) = try c.srHolding(vdi: try c.args.required("uuid"))
        let launcher = try DataPathLauncher.attach(sr, vdi: r.uuid, writable: !(try c.bool("read-only", default: false)),
                                                   tapdisk: DataPathLauncher.locateTapdisk(environment: c.environment),
                                                   runDirectory: c.runDirectory)
        if c.args.json {
            c.out.json(["uri": launcher.nbdURI, "socket": launcher.socketPath, "control": launcher.controlPath,
                        "pid": Int(launcher.runningPID() ?? 0)])
        } else {
            c.out.line(launcher.nbdURI)
        }
    }

    static func detach(_ c: CommandContext) throws {
        let uuid = try c.args.required("uuid")
        // A VDI destroyed or an SR gone must still be detachable: find the daemon by its files.
        let launchers = DataPathLauncher.all(runDirectory: c.runDirectory, sr: c.args.params["sr-uuid"], vdi: uuid)
        for l in launchers { try l.stop() }
    }

    /// The running daemon serving VDI `uuid=`, or VDIUnavailable.
    static func served(_ c: CommandContext) throws -> DataPathLauncher {
        let uuid = try c.args.required("uuid")
        let running = DataPathLauncher.all(runDirectory: c.runDirectory, sr: c.args.params["sr-uuid"], vdi: uuid)
            .filter { $0.runningPID() != nil }
        guard let launcher = running.first else {
            throw SREngineError.vdiUnavailable(uuid: uuid, detail: "no sm-tapdisk serves it (in \(c.runDirectory))")
        }
        return launcher
    }

    /// Runs a control request, reporting a daemon's failure as the VDI's.
    static func controlled<T>(_ l: DataPathLauncher, _ body: (TapControlClient) throws -> T) throws -> T {
        do {
            return try body(l.control)
        } catch let e as TapControlError {
            throw SREngineError.vdiUnavailable(uuid: l.vdi, detail: e.description)
        }
    }

    static func list(_ c: CommandContext) throws {
        var records: [[RecordField]] = []
        for l in DataPathLauncher.all(runDirectory: c.runDirectory, sr: c.args.params["sr-uuid"]) {
            guard let pid = l.runningPID() else { continue }
            let info = try? l.control.list().first
            records.append(TapRecords.daemon(l, pid: pid, info: info))
        }
        SRCommands.printRecords(c, records, defaults: TapRecords.listDefaults)
    }

    static func stats(_ c: CommandContext) throws {
        let l = try served(c)
        let reports = try controlled(l) { try $0.stats() }
        if c.args.json {
            c.out.json(reports.map(TapRecords.statsJSON))
            return
        }
        var texts: [String] = []
        for report in reports {
            texts.append(RecordFormat.text(TapRecords.statsHeader(report, vdi: l.vdi)))
            texts += report.ops.map { RecordFormat.text(TapRecords.op($0)) }
        }
        c.out.writeOut(texts.map { $0 + "\n\n\n" }.joined())
    }

    static func pause(_ c: CommandContext) throws {
        let l = try served(c)
        try l.exclusively { try controlled(l) { try $0.pause() } }
        if c.args.json { c.out.json(["state": "paused"]) }
    }

    /// Unpauses on the VDI's image as the engine knows it now (a snapshot may have replaced it
    /// while paused), or on the image served before when the SR is not registered here.
    static func unpause(_ c: CommandContext) throws {
        let l = try served(c)
        let path = (try? c.sr(l.sr))?.repository.dataPathLocation(of: l.vdi + ".vhd")
        try l.exclusively { try controlled(l) { try $0.unpause(path: path) } }
        if c.args.json { c.out.json(["state": "serving"]) }
    }
}

/// xe-style records of daemons and their statistics.
enum TapRecords {
    static let listDefaults = ["vdi-uuid", "sr-uuid", "pid", "state", "uri", "path", "connections"]

    static func daemon(_ l: DataPathLauncher, pid: Int32, info: ControlExportInfo?) -> [RecordField] {
        let state = info?.state ?? "unreachable"
        return [
            RecordField(key: "vdi-uuid", value: l.vdi, access: .ro, json: l.vdi),
            RecordField(key: "sr-uuid", value: l.sr, access: .ro, json: l.sr),
            RecordField(key: "pid", value: "\(pid)", access: .ro, json: Int(pid)),
            RecordField(key: "state", value: state, access: .ro, json: state),
            RecordField(key: "uri", value: l.nbdURI, access: .ro, json: l.nbdURI),
            RecordField(key: "path", value: info?.path ?? "", access: .ro, json: info?.path ?? ""),
            RecordField(key: "read-only", value: "\(info?.readOnly ?? false)", access: .ro, json: info?.readOnly ?? false),
            RecordField(key: "virtual-size", value: "\(info?.size ?? 0)", access: .ro, json: info?.size ?? 0),
            RecordField(key: "connections", value: "\(info?.connections ?? 0)", access: .ro, json: info?.connections ?? 0),
            RecordField(key: "control", value: l.controlPath, access: .ro, json: l.controlPath),
        ]
    }

    static func statsHeader(_ s: ControlExportStats, vdi: String) -> [RecordField] {
        [
            RecordField(key: "vdi-uuid", value: vdi, access: .ro, json: vdi),
            RecordField(key: "inflight", value: "\(s.inflight)", access: .ro, json: s.inflight),
            RecordField(key: "connections", value: "\(s.connections)", access: .ro, json: s.connections),
            RecordField(key: "pauses", value: "\(s.pauses)", access: .ro, json: s.pauses),
        ]
    }

    static func op(_ o: ControlOpStats) -> [RecordField] {
        var fields = [
            RecordField(key: "op", value: o.op, access: .ro, json: o.op),
            RecordField(key: "requests", value: "\(o.requests)", access: .ro, json: o.requests),
            RecordField(key: "bytes", value: "\(o.bytes)", access: .ro, json: o.bytes),
            RecordField(key: "errors", value: "\(o.errors)", access: .ro, json: o.errors),
        ]
        if let l = o.latencyMicroseconds {
            for (key, v) in [("latency-p50-us", l.p50), ("latency-p90-us", l.p90), ("latency-p99-us", l.p99), ("latency-p99.9-us", l.p99_9)] {
                fields.append(RecordField(key: key, value: "\(v)", access: .ro, json: v))
            }
        }
        return fields
    }

    static func statsJSON(_ s: ControlExportStats) -> [String: Any] {
        var object = RecordFormat.jsonObject(statsHeader(s, vdi: s.name))
        object["ops"] = s.ops.map { RecordFormat.jsonObject(op($0)) }
        return object
    }
}
