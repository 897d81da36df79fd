import SMErrors
import SREngine

/// sr-probe, sr-create, sr-introduce, sr-forget, sr-destroy, sr-list, sr-scan, sr-update,
/// sr-param-list, sr-param-set, sr-check.
enum SRCommands {
    static let all: [CommandSpec] = [
        CommandSpec(name: "sr-probe", summary: "list the SRs found where device-config points (SM probe XML)",
                    keys: ["type"], maps: ["device-config", "sm-config"], run: probe),
        CommandSpec(name: "sr-create", summary: "create an SR and remember it; prints its uuid",
                    keys: ["type", "name-label", "name-description", "uuid", "physical-size", "content-type", "shared"],
                    maps: ["device-config", "sm-config"], run: create),
        CommandSpec(name: "sr-introduce", summary: "remember an existing SR (e.g. a XenServer file SR directory)",
                    keys: ["uuid", "type", "name-label", "name-description", "content-type", "shared"],
                    maps: ["device-config", "sm-config"], run: introduce),
        CommandSpec(name: "sr-forget", summary: "forget an SR without touching its data", keys: ["uuid"], run: forget),
        CommandSpec(name: "sr-destroy", summary: "destroy an empty SR and forget it", keys: ["uuid"], run: destroy),
        CommandSpec(name: "sr-list", summary: "list the known SRs",
                    keys: ["uuid", "name-label", "type", "params"], run: list),
        CommandSpec(name: "sr-scan", summary: "reconcile VDI records with the images present; prints changes",
                    keys: ["uuid"], run: scan),
        CommandSpec(name: "sr-update", summary: "refresh space accounting", keys: ["uuid"], run: update),
        CommandSpec(name: "sr-param-list", summary: "all fields of an SR", keys: ["uuid"], run: paramList),
        CommandSpec(name: "sr-param-set", summary: "set name-label / name-description",
                    keys: ["uuid", "name-label", "name-description"], run: paramSet),
        CommandSpec(name: "sr-check", summary: "check records against images and every image's structure",
                    keys: ["uuid"], run: check),
    ]

    static func probe(_ c: CommandContext) throws {
        let uuids = try c.manager.probe(type: c.args.params["type"] ?? "file", deviceConfig: c.args.map("device-config"))
        if c.args.json { c.out.json(uuids); return }
        c.out.line("<?xml version=\"1.0\" ?>\n<SRlist>" + uuids.map { "\n\t<SR>\n\t\t<UUID>\($0)</UUID>\n\t</SR>" }.joined()
                   + "\n</SRlist>")
    }

    static func create(_ c: CommandContext) throws {
        let type = c.args.params["type"] ?? "file"
        let dc = c.args.map("device-config")
        _ = try c.manager.driver(type)
        if let uuid = c.args.params["uuid"], try c.registry.load()[uuid] != nil { throw SREngineError.srExists(uuid: uuid) }
        let sr = try c.manager.create(type: type, deviceConfig: dc, nameLabel: c.args.params["name-label"] ?? "",
                                      nameDescription: c.args.params["name-description"] ?? "",
                                      uuid: c.args.params["uuid"] ?? UUIDText.random())
        try c.registry.modify { $0[sr.uuid] = HostRegistry.Entry(type: type, deviceConfig: absolutized(dc)) }
        c.printUUID(sr.uuid)
    }

    /// Stores `location` as an absolute path so later invocations work from any directory.
    static func absolutized(_ dc: [String: String]) -> [String: String] {
        var out = dc
        if let loc = dc["location"], !loc.hasPrefix("/") {
            var buf = [CChar](repeating: 0, count: 4096)
            let cwd = getcwd(&buf, buf.count).map { String(cString: $0) } ?? "/"
            out["location"] = cwd + "/" + loc
        }
        return out
    }

    static func introduce(_ c: CommandContext) throws {
        let uuid = try c.args.required("uuid")
        let type = c.args.params["type"] ?? "file"
        let dc = absolutized(c.args.map("device-config"))
        if try c.registry.load()[uuid] != nil { throw SREngineError.srExists(uuid: uuid) }
        let sr = try c.manager.attach(uuid: uuid, type: type, deviceConfig: dc)
        if c.args.params["name-label"] != nil || c.args.params["name-description"] != nil {
            _ = try sr.setSR(nameLabel: c.args.params["name-label"], nameDescription: c.args.params["name-description"])
        }
        try c.registry.modify { $0[uuid] = HostRegistry.Entry(type: type, deviceConfig: dc) }
        c.printUUID(uuid)
    }

    static func forget(_ c: CommandContext) throws {
        let uuid = try c.args.required("uuid")
        try c.registry.modify { entries in
            guard entries.removeValue(forKey: uuid) != nil else { throw SREngineError.srNotFound(uuid: uuid) }
        }
    }

    static func destroy(_ c: CommandContext) throws {
        let uuid = try c.args.required("uuid")
        try c.manager.destroy(try c.sr(uuid))
        try c.registry.modify { $0[uuid] = nil }
    }

    static func list(_ c: CommandContext) throws {
        var records: [[RecordField]] = []
        for (uuid, entry) in try c.registry.load().sorted(by: { $0.key < $1.key }) {
            if let want = c.args.params["uuid"], want != uuid { continue }
            let record: SRRecord
            do { record = try c.sr(uuid).srRecord() } catch {
                c.out.error("warning: SR \(uuid) is unavailable: \(SMErrorTable.map(error))")
                continue
            }
            if let want = c.args.params["name-label"], want != record.nameLabel { continue }
            if let want = c.args.params["type"], want != record.type { continue }
            records.append(RecordFormat.srFields(record, entry: entry, stats: nil))
        }
        printRecords(c, records, defaults: RecordFormat.srListDefaults)
    }

    static func printRecords(_ c: CommandContext, _ records: [[RecordField]], defaults: [String]) {
        if c.args.minimal {
            c.out.line(records.compactMap { $0.first?.value }.joined(separator: ","))
        } else if c.args.json {
            c.out.json(records.map { RecordFormat.jsonObject(RecordFormat.select($0, params: c.args.params["params"] ?? "all", defaults: defaults)) })
        } else {
            let texts = records.map { RecordFormat.text(RecordFormat.select($0, params: c.args.params["params"], defaults: defaults)) }
            c.out.writeOut(texts.map { $0 + "\n\n\n" }.joined())
        }
    }

    static func scan(_ c: CommandContext) throws {
        let sr = try c.sr(try c.args.required("uuid"))
        let changes = try sr.scan()
        let recovered = sr.recoveryLog
        if c.args.json {
            c.out.json(["changes": changes.map(\.description), "recovered": recovered])
        } else {
            for line in recovered + changes.map(\.description) { c.out.line(line) }
        }
    }

    static func update(_ c: CommandContext) throws {
        let stats = try c.sr(try c.args.required("uuid")).update()
        if c.args.json {
            c.out.json(["physical-size": stats.physicalSize, "physical-utilisation": stats.physicalUtilisation,
                        "virtual-allocation": stats.virtualAllocation])
        }
    }

    static func paramList(_ c: CommandContext) throws {
        let uuid = try c.args.required("uuid")
        let sr = try c.sr(uuid)
        let stats = try sr.update()
        let fields = RecordFormat.srFields(try sr.srRecord(), entry: try c.registry.entry(uuid), stats: stats)
        if c.args.json { c.out.json(RecordFormat.jsonObject(fields)) } else { c.out.line(RecordFormat.text(fields)) }
    }

    static func paramSet(_ c: CommandContext) throws {
        _ = try c.sr(try c.args.required("uuid")).setSR(nameLabel: c.args.params["name-label"],
                                                         nameDescription: c.args.params["name-description"])
    }

    static func check(_ c: CommandContext) throws {
        let report = try c.sr(try c.args.required("uuid")).verify()
        if c.args.json {
            c.out.json(["consistent": report.isConsistent, "problems": report.problems,
                        "images": report.imagesChecked, "chains": report.chainsChecked])
        } else {
            c.out.line(report.description)
        }
        if !report.isConsistent {
            throw SREngineError.metadataCorrupt(path: c.args.params["uuid"]!, detail: "\(report.problems.count) problem(s)")
        }
    }
}

import Glibc
