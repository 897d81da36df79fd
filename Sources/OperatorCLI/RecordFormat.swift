import SREngine

/// One field of an xe-style record: name, value, and whether xe would let it be set.
struct RecordField {
    enum Access: String { case ro = " RO", rw = " RW", mro = "MRO" }
    var key: String
    var value: String
    var access: Access
    var json: Any
}

/// Prints records as xe does (`uuid ( RO)  : ...` with right-aligned names) and as JSON.
enum RecordFormat {
    static func text(_ fields: [RecordField]) -> String {
        let labels = fields.map { "\($0.key) (\($0.access.rawValue))" }
        let width = labels.map(\.count).max() ?? 0
        var lines: [String] = []
        for (i, (label, field)) in zip(labels, fields).enumerated() {
            let pad = String(repeating: " ", count: width - label.count)
            lines.append(i == 0 ? "\(label)\(pad): \(field.value)" : "\(pad)\(label): \(field.value)")
        }
        return lines.joined(separator: "\n")
    }

    static func jsonObject(_ fields: [RecordField]) -> [String: Any] {
        Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0.json) })
    }

    /// Keeps the fields named in `params=` (comma list; `all` keeps everything).
    static func select(_ fields: [RecordField], params: String?, defaults: [String]) -> [RecordField] {
        let wanted = params == "all" ? nil : (params.map { $0.split(separator: ",").map(String.init) } ?? defaults)
        guard let wanted else { return fields }
        return wanted.compactMap { w in fields.first { $0.key == w } }
    }

    static func map(_ m: [String: String]) -> String {
        m.keys.sorted().map { "\($0): \(m[$0]!)" }.joined(separator: "; ")
    }

    static func vdiFields(_ r: VDIRecord, srUUID: String) -> [RecordField] {
        [
            RecordField(key: "uuid", value: r.uuid, access: .ro, json: r.uuid),
            RecordField(key: "name-label", value: r.nameLabel, access: .rw, json: r.nameLabel),
            RecordField(key: "name-description", value: r.nameDescription, access: .rw, json: r.nameDescription),
            RecordField(key: "sr-uuid", value: srUUID, access: .ro, json: srUUID),
            RecordField(key: "virtual-size", value: "\(r.virtualSize)", access: .ro, json: r.virtualSize),
            RecordField(key: "physical-utilisation", value: "\(r.physicalUtilisation)", access: .ro, json: r.physicalUtilisation),
            RecordField(key: "type", value: r.type.capitalized, access: .ro, json: r.type),
            RecordField(key: "sharable", value: "false", access: .ro, json: false),
            RecordField(key: "read-only", value: "\(r.readOnly)", access: .ro, json: r.readOnly),
            RecordField(key: "managed", value: "\(r.managed)", access: .ro, json: r.managed),
            RecordField(key: "hidden", value: "\(r.hidden)", access: .ro, json: r.hidden),
            RecordField(key: "is-a-snapshot", value: "\(r.isASnapshot)", access: .ro, json: r.isASnapshot),
            RecordField(key: "snapshot-of", value: r.snapshotOf.isEmpty ? "<not in database>" : r.snapshotOf, access: .ro, json: r.snapshotOf),
            RecordField(key: "snapshot-time", value: r.snapshotTime.isEmpty ? "19700101T00:00:00Z" : r.snapshotTime, access: .ro, json: r.snapshotTime),
            RecordField(key: "location", value: r.location, access: .ro, json: r.location),
            RecordField(key: "sm-config", value: map(r.smConfig), access: .mro, json: r.smConfig),
        ]
    }

    static let vdiListDefaults = ["uuid", "name-label", "name-description", "sr-uuid", "virtual-size", "sharable", "read-only"]

    static func srFields(_ r: SRRecord, entry: HostRegistry.Entry, stats: SRStats?) -> [RecordField] {
        var f = [
            RecordField(key: "uuid", value: r.uuid, access: .ro, json: r.uuid),
            RecordField(key: "name-label", value: r.nameLabel, access: .rw, json: r.nameLabel),
            RecordField(key: "name-description", value: r.nameDescription, access: .rw, json: r.nameDescription),
            RecordField(key: "type", value: r.type, access: .ro, json: r.type),
            RecordField(key: "content-type", value: r.contentType, access: .ro, json: r.contentType),
            RecordField(key: "device-config", value: map(entry.deviceConfig), access: .mro, json: entry.deviceConfig),
        ]
        if let s = stats {
            f += [
                RecordField(key: "physical-size", value: "\(s.physicalSize)", access: .ro, json: s.physicalSize),
                RecordField(key: "physical-utilisation", value: "\(s.physicalUtilisation)", access: .ro, json: s.physicalUtilisation),
                RecordField(key: "virtual-allocation", value: "\(s.virtualAllocation)", access: .ro, json: s.virtualAllocation),
                RecordField(key: "image-utilisation", value: "\(s.imageBytes)", access: .ro, json: s.imageBytes),
            ]
        }
        return f
    }

    static let srListDefaults = ["uuid", "name-label", "name-description", "type", "content-type"]
}
