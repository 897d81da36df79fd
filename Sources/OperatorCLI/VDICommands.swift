import SMErrors
import SREngine

/// vdi-create, vdi-list, vdi-param-list, vdi-param-set, vdi-snapshot, vdi-clone,
/// vdi-resize, vdi-destroy, vdi-introduce, vdi-update, vdi-tree.
enum VDICommands {
    static let all: [CommandSpec] = [
        CommandSpec(name: "vdi-create", summary: "create a thin VDI; prints its uuid",
                    keys: ["sr-uuid", "name-label", "name-description", "virtual-size", "disk-size", "type", "read-only", "sharable"],
                    maps: ["sm-config", "other-config"], run: create),
        CommandSpec(name: "vdi-list", summary: "list VDIs (filters: any field=value; params=a,b|all)",
                    keys: ["*"], run: list),
        CommandSpec(name: "vdi-param-list", summary: "all fields of a VDI", keys: ["uuid", "sr-uuid"], run: paramList),
        CommandSpec(name: "vdi-param-set", summary: "set name-label / name-description",
                    keys: ["uuid", "sr-uuid", "name-label", "name-description"], run: paramSet),
        CommandSpec(name: "vdi-snapshot", summary: "snapshot a VDI (driver-params:type=single|internal); prints the snapshot's uuid",
                    keys: ["uuid", "sr-uuid", "new-name-label"], maps: ["driver-params"], run: snapshot),
        CommandSpec(name: "vdi-clone", summary: "clone a VDI; prints the clone's uuid",
                    keys: ["uuid", "sr-uuid", "new-name-label", "new-name-description"], maps: ["driver-params"], run: clone),
        CommandSpec(name: "vdi-resize", summary: "grow a VDI (shrinking is refused)",
                    keys: ["uuid", "sr-uuid", "disk-size", "virtual-size"], run: resize),
        CommandSpec(name: "vdi-destroy", summary: "destroy a VDI", keys: ["uuid", "sr-uuid"], run: destroy),
        CommandSpec(name: "vdi-introduce", summary: "record an image already in the SR (<uuid>.vhd)",
                    keys: ["sr-uuid", "uuid", "name-label", "name-description", "type", "location"],
                    maps: ["sm-config"], run: introduce),
        CommandSpec(name: "vdi-update", summary: "re-read a VDI's image into its record", keys: ["uuid", "sr-uuid"], run: update),
        CommandSpec(name: "vdi-tree", summary: "show the snapshot trees of an SR", keys: ["sr-uuid"], run: tree),
    ]

    static func printRecord(_ c: CommandContext, _ r: VDIRecord, sr: String) {
        let fields = RecordFormat.vdiFields(r, srUUID: sr)
        if c.args.json { c.out.json(RecordFormat.jsonObject(fields)) } else { c.out.line(RecordFormat.text(fields)) }
    }

    static func create(_ c: CommandContext) throws {
        let sr = try c.sr(try c.args.required("sr-uuid"))
        var smConfig = c.args.map("sm-config")
        smConfig.removeValue(forKey: SMConfigKey.vhdParent)
        let spec = VDISpec(virtualSize: try c.size("virtual-size", "disk-size"),
                           nameLabel: c.args.params["name-label"] ?? "", nameDescription: c.args.params["name-description"] ?? "",
                           type: c.args.params["type"]?.lowercased() ?? "user", readOnly: try c.bool("read-only", default: false),
                           smConfig: smConfig)
        c.printUUID(try sr.createVDI(spec).uuid)
    }

    static func list(_ c: CommandContext) throws {
        let srs = try c.args.params["sr-uuid"].map { [$0] } ?? c.registry.load().keys.sorted()
        var records: [[RecordField]] = []
        let filters = c.args.params.filter { $0.key != "params" }
        for sruuid in srs {
            let sr: AttachedSR
            do { sr = try c.sr(sruuid) } catch {
                if c.args.params["sr-uuid"] != nil { throw error }
                c.out.error("warning: SR \(sruuid) is unavailable: \(SMErrorTable.map(error))")
                continue
            }
            for r in try sr.vdis() {
                let fields = RecordFormat.vdiFields(r, srUUID: sruuid)
                let values = Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0.value) })
                guard filters.allSatisfy({ values[$0.key] == $0.value || ($0.key == "type" && r.type == $0.value) }) else { continue }
                records.append(fields)
            }
        }
        for key in filters.keys where RecordFormat.vdiFields(VDIRecord(uuid: ""), srUUID: "").first(where: { $0.key == key }) == nil {
            throw CLIError.unknownParameter(command: "vdi-list", key: key)
        }
        SRCommands.printRecords(c, records, defaults: RecordFormat.vdiListDefaults)
    }

    static func paramList(_ c: CommandContext) throws {
        let (sr, r) = try c.srHolding(vdi: try c.args.required("uuid"))
        printRecord(c, r, sr: sr.uuid)
    }

    static func paramSet(_ c: CommandContext) throws {
        let (sr, r) = try c.srHolding(vdi: try c.args.required("uuid"))
        _ = try sr.setVDI(r.uuid, nameLabel: c.args.params["name-label"], nameDescription: c.args.params["name-description"])
    }

    static func snapshotType(_ c: CommandContext) throws -> SnapshotType {
        guard let t = c.args.map("driver-params")["type"] else { return .double }
        guard let type = SnapshotType(rawValue: t) else {
            throw CLIError.usage("driver-params:type=\(t): expected single or internal")
        }
        return type
    }

    static func snapshot(_ c: CommandContext) throws {
        let (sr, r) = try c.srHolding(vdi: try c.args.required("uuid"))
        let result = try sr.snapshot(r.uuid, type: try snapshotType(c), clone: false, nameLabel: c.args.params["new-name-label"])
        c.printUUID(result.uuid)
    }

    static func clone(_ c: CommandContext) throws {
        let (sr, r) = try c.srHolding(vdi: try c.args.required("uuid"))
        var result = try sr.snapshot(r.uuid, type: try snapshotType(c), clone: true, nameLabel: c.args.params["new-name-label"])
        if let d = c.args.params["new-name-description"] { result = try sr.setVDI(result.uuid, nameDescription: d) }
        c.printUUID(result.uuid)
    }

    static func resize(_ c: CommandContext) throws {
        let (sr, r) = try c.srHolding(vdi: try c.args.required("uuid"))
        _ = try sr.resizeVDI(r.uuid, to: try c.size("disk-size", "virtual-size"))
    }

    static func destroy(_ c: CommandContext) throws {
        let (sr, r) = try c.srHolding(vdi: try c.args.required("uuid"))
        try sr.destroyVDI(r.uuid)
    }

    static func introduce(_ c: CommandContext) throws {
        let sr = try c.sr(try c.args.required("sr-uuid"))
        let uuid = try c.args.params["location"] ?? c.args.required("uuid")
        let r = try sr.introduceVDI(uuid: uuid, nameLabel: c.args.params["name-label"] ?? "",
                                    nameDescription: c.args.params["name-description"] ?? "",
                                    type: c.args.params["type"] ?? "user", smConfig: c.args.map("sm-config"))
        c.printUUID(r.uuid)
    }

    static func update(_ c: CommandContext) throws {
        let (sr, r) = try c.srHolding(vdi: try c.args.required("uuid"))
        _ = try sr.updateVDI(r.uuid)
    }

    static func tree(_ c: CommandContext) throws {
        let sr = try c.sr(try c.args.required("sr-uuid"))
        let roots = try sr.tree()
        if c.args.json { c.out.json(roots.map(treeJSON)); return }
        for line in TreeText.lines(roots) { c.out.line(line) }
    }

    static func treeJSON(_ n: VDITreeNode) -> [String: Any] {
        ["uuid": n.record.uuid, "name-label": n.record.nameLabel, "hidden": n.record.hidden,
         "physical-utilisation": n.record.physicalUtilisation, "children": n.children.map(treeJSON)]
    }
}

/// Draws snapshot trees with box characters, one VDI per line.
enum TreeText {
    static func lines(_ roots: [VDITreeNode]) -> [String] {
        var out: [String] = []
        func walk(_ n: VDITreeNode, _ prefix: String, _ connector: String, _ childPrefix: String) {
            let r = n.record
            var tags: [String] = []
            if r.hidden { tags.append("hidden base copy") }
            if r.isASnapshot { tags.append("snapshot of \(r.snapshotOf.prefix(8))") }
            if r.readOnly && !r.hidden { tags.append("read-only") }
            let label = r.nameLabel.isEmpty ? "" : " \"\(r.nameLabel)\""
            out.append("\(prefix)\(connector)\(r.uuid)\(label)  \(SizeText.format(r.physicalUtilisation)) on disk"
                       + (tags.isEmpty ? "" : "  [\(tags.joined(separator: ", "))]"))
            for (i, child) in n.children.enumerated() {
                let last = i == n.children.count - 1
                walk(child, prefix + childPrefix, last ? "└── " : "├── ", last ? "    " : "│   ")
            }
        }
        for root in roots { walk(root, "", "", "") }
        return out
    }
}
