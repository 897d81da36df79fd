import Foundation
import SREngine
import XMLRPC

/// The VDI commands other than attach/detach. XAPI reads back only `{location, uuid}` of
/// new VDIs and calls vdi_update after snapshots, so results stay that small.
enum VDICommands {
    /// `{location, uuid}`: what vdi_create, vdi_introduce, vdi_snapshot, vdi_clone and
    /// vdi_resize return (SM's `VDI.get_params`).
    static func params(_ record: VDIRecord) -> XMLRPCValue {
        .structure([("location", .string(record.location)), ("uuid", .string(record.uuid))])
    }

    /// A size argument in bytes; anything else is VDISize, as an out-of-range size is.
    static func size(_ text: String) throws -> UInt64 {
        guard let value = UInt64(text.trimmingCharacters(in: .whitespaces)) else {
            throw SREngineError.vdiSize(requested: 0, detail: "'\(text)' is not a size in bytes")
        }
        return value
    }

    /// vdi_create: args = [size, name_label, name_description, metadata_of_pool,
    /// is_a_snapshot, snapshot_time, snapshot_of, read_only]; `vdi_uuid` only when XAPI forces one.
    static func create(_ c: PluginContext) throws -> XMLRPCValue {
        let call = c.call
        try refuseOtherFormats(call.vdiSMConfig)
        let bytes = try size(try call.requireArg(0, "size in bytes"))
        let arg = { (i: Int) in i < call.args.count ? call.args[i] : "" }
        let spec = VDISpec(virtualSize: bytes, nameLabel: arg(1), nameDescription: arg(2),
                           type: call.vdiType.flatMap { $0.isEmpty ? nil : $0 } ?? "user",
                           readOnly: arg(7) == "true", smConfig: call.vdiSMConfig)
        let sr = try c.attachSR()
        let record = try c.mirroring(sr) {
            if let uuid = call.vdiUUID, !uuid.isEmpty { return try sr.createVDI(spec, uuid: uuid) }
            return try sr.createVDI(spec)
        }
        return params(record)
    }

    /// The engine writes VHD only: a request for raw (`type=raw`) or another image format
    /// (`image-format=qcow2`) is refused rather than silently given a VHD.
    static func refuseOtherFormats(_ smConfig: [String: String]) throws {
        if smConfig["type"] == "raw" { throw SREngineError.unsupported("raw VDIs (sm-config type=raw); this SR stores VHD") }
        if let format = smConfig["image-format"], !format.isEmpty, format != "vhd" {
            throw SREngineError.unsupported("image-format=\(format); this SR stores VHD")
        }
    }

    /// vdi_delete: idempotent, as XAPI expects; a VDI other images depend on becomes a
    /// hidden base copy, removed with its last child.
    static func delete(_ c: PluginContext) throws -> XMLRPCValue {
        let vdi = try c.call.requireVDI()
        let sr = try c.attachSR()
        try c.mirroring(sr) {
            do { try sr.destroyVDI(vdi) } catch SREngineError.vdiNotFound {
                c.log("vdi_delete: \(vdi) is already gone")
            }
        }
        return .nil
    }

    /// vdi_introduce: records an image already in the SR. On a file SR the location is the
    /// uuid, so `new_uuid` must name the same image; an already known VDI is returned as is.
    static func introduce(_ c: PluginContext) throws -> XMLRPCValue {
        guard let location = c.call.vdiLocation, !location.isEmpty else {
            throw PluginError.badRequest("vdi_introduce needs vdi_location")
        }
        if let uuid = c.call.newUUID, !uuid.isEmpty, uuid != location {
            throw SREngineError.invalidArgument(
                "new_uuid \(uuid) differs from vdi_location \(location); on a \(c.environment.srType) SR the location is the uuid")
        }
        guard UUIDText.isValid(location) else {
            throw SREngineError.vdiNotFound(uuid: location)
        }
        let sr = try c.attachSR()
        let record = try (try? sr.vdi(location)) ?? sr.introduceVDI(uuid: location, smConfig: c.call.vdiSMConfig)
        // XAPI reads the record the driver made (SM's introduce is `_db_introduce`).
        c.mirror?.introduce(record)
        return params(record)
    }

    /// vdi_update: re-reads the image into the record (XAPI calls it after every snapshot).
    static func update(_ c: PluginContext) throws -> XMLRPCValue {
        let vdi = try c.call.requireVDI()
        let sr = try c.attachSR()
        _ = try sr.updateVDI(vdi)
        c.mirror?.refresh(sr, vdi: vdi)
        return .nil
    }

    /// vdi_snapshot / vdi_clone: double by default; `driver_params:type=single|internal`.
    static func snapshot(_ c: PluginContext, clone: Bool) throws -> XMLRPCValue {
        let vdi = try c.call.requireVDI()
        let type: SnapshotType = switch c.call.driverParams["type"] {
        case "single": .single
        case "internal": .internal
        default: .double
        }
        let sr = try c.attachSR()
        return params(try c.mirroring(sr) { try sr.snapshot(vdi, type: type, clone: clone) })
    }

    /// vdi_resize: args[0] = the new size; grow only (a smaller size is VDISize).
    static func resize(_ c: PluginContext) throws -> XMLRPCValue {
        let vdi = try c.call.requireVDI()
        let bytes = try size(try c.call.requireArg(0, "new size in bytes"))
        let sr = try c.attachSR()
        return params(try c.mirroring(sr) { try sr.resizeVDI(vdi, to: bytes) })
    }

    /// vdi_compose: args[0] names the other VDI by its XAPI reference (resolved through the
    /// session, as SM's SRCommand does; a uuid is taken as is): this VDI's leaf is put on top
    /// of it, and it becomes a hidden base copy. The engine pauses a served VDI around it.
    static func compose(_ c: PluginContext) throws -> XMLRPCValue {
        let vdi = try c.call.requireVDI()
        let other = try c.call.requireArg(0, "the other VDI's reference")
        guard let parent = UUIDText.isValid(other) ? other : c.mirror?.vdiUUID(ofRef: other) else {
            throw SREngineError.invalidArgument("cannot resolve the VDI reference \(other): no XAPI session answered")
        }
        let sr = try c.attachSR()
        _ = try c.mirroring(sr) { try sr.composeVDI(vdi, onto: parent) }
        return .nil
    }

    /// vdi_generate_config: a whole `vdi_attach_from_config` methodCall, as a string, that
    /// attaches the VDI later without XAPI's database (HA statefile, static VDIs).
    static func generateConfig(_ c: PluginContext) throws -> XMLRPCValue {
        let vdi = try c.call.requireVDI()
        let sr = try c.attachSR()
        _ = try sr.vdi(vdi)
        let config: [(String, XMLRPCValue)] = c.call.deviceConfig.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }
        let inner = XMLRPCMessage.call(method: "vdi_attach_from_config", params: [.structure([
            ("command", .string("vdi_attach_from_config")),
            ("device_config", .structure(config)),
            ("sr_uuid", .string(sr.uuid)),
            ("vdi_uuid", .string(vdi)),
            ("vdi_location", .string(vdi)),
        ])])
        return .string(XMLRPCEncoder.encode(inner))
    }

    /// vdi_epoch_begin / vdi_epoch_end: nothing to do, as VDI_RESET_ON_BOOT is not offered.
    static func epoch(_ c: PluginContext) throws -> XMLRPCValue {
        _ = try c.call.requireVDI()
        return .nil
    }
}
