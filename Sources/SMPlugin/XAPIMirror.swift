import SREngine
import XenAPI

/// Mirrors the plugin's changes into XAPI's database through the session XAPI passed
/// (`session_ref`), as SM's drivers do: VDI records introduced, forgotten and updated,
/// sm-config `vhd-parent`/`vdi_type`, and the SR's space figures.
///
/// The SR's own metadata stays authoritative: a failed XenAPI call is logged (stderr,
/// which XAPI keeps) and the command still succeeds; the next sr_scan repairs XAPI's view.
/// After a transport failure (no socket, timeout) no further call is tried, so an absent
/// toolstack costs one failed connect, not one timeout per record.
final class XAPIMirror {
    private let client: XenAPIClient
    private let call: PluginCall
    private let log: (String) -> Void
    private var stopped = false
    private var srRefCache: String?
    private var vdiRefs: [String: String] = [:]

    /// nil without a session: the plugin then works alone.
    init?(call: PluginCall, environment: PluginEnvironment, log: @escaping (String) -> Void) {
        guard let session = call.sessionRef, !session.isEmpty else { return nil }
        do {
            let endpoint = try XenAPIEndpoint(parsing: environment.xapiEndpoint)
            client = try XenAPIClient(endpoint: endpoint, sessionRef: session, subtaskOf: call.subtaskOf,
                                      timeoutSeconds: environment.xapiTimeoutSeconds)
        } catch {
            log("xapi: not mirrored: \(error)")
            return nil
        }
        self.call = call
        self.log = log
        srRefCache = call.srRef.flatMap { $0.isEmpty ? nil : $0 }
        if let uuid = call.vdiUUID, let ref = call.vdiRef, !uuid.isEmpty, !ref.isEmpty { vdiRefs[uuid] = ref }
    }

    // MARK: What the commands call

    /// The uuid of VDI reference `ref`, asked of XAPI; nil when it cannot answer.
    func vdiUUID(ofRef ref: String) -> String? {
        attempt { () throws(XenAPIError) in try client.vdiUUID(ofRef: ref) }
    }

    /// After a command changed VDIs: the records it changed, then the SR's figures
    /// (SM: `_db_introduce`/`_db_forget`/`_db_update`, then `SR._update`).
    func commandDone(_ sr: AttachedSR, before: [VDIRecord]) {
        let known = MirrorPlan.visible(before).map {
            KnownVDI(uuid: $0.uuid, ref: nil, location: $0.location, fields: MirroredFields($0))
        }
        // The figures first: refreshing them refreshes the records' utilisation too. SM
        // leaves the SR's figures alone after an internal (GC) snapshot.
        let stats = call.driverParams["type"] == "internal" ? nil : self.stats(sr)
        guard let now = records(sr) else { return }
        apply(MirrorPlan.steps(known: known, now: now))
        if let stats { srFigures(stats) }
    }

    /// sr_scan, and sr_attach on the master (SM scans after a master attach): the SR's
    /// figures, then XAPI's records compared with the SR's by location.
    func synchronise(_ sr: AttachedSR) {
        if let stats = stats(sr) { srFigures(stats) }
        guard let now = records(sr), let ref = attempt({ () throws(XenAPIError) in try srRef() }),
              let known = attempt({ () throws(XenAPIError) in try client.vdiRecords(inSR: ref) }) else { return }
        for record in known { vdiRefs[record.uuid] = record.ref }
        apply(MirrorPlan.steps(known: known.map {
            KnownVDI(uuid: $0.uuid, ref: $0.ref, location: $0.location, fields: MirroredFields($0))
        }, now: now))
    }

    /// vdi_introduce: XAPI's record for a VDI the SR holds.
    func introduce(_ record: VDIRecord) {
        apply([.introduce(record)])
    }

    /// vdi_update: the whole record re-sent (SM's `_db_update`).
    func refresh(_ sr: AttachedSR, vdi: String) {
        guard let record = try? sr.vdi(vdi) else { return }
        apply([.update(uuid: vdi, ref: nil, changes: MirrorPlan.changes(from: nil, to: MirroredFields(record)))])
    }

    /// The SR's space figures (SM's `SR._db_update` order).
    func srFigures(_ stats: SRStats) {
        attempt { () throws(XenAPIError) in
            let ref = try srRef()
            try client.srSetVirtualAllocation(ref, stats.virtualAllocation)
            try client.srSetPhysicalSize(ref, stats.physicalSize)
            try client.srSetPhysicalUtilisation(ref, stats.physicalUtilisation)
        }
    }

    // MARK: Steps

    /// The SR's space figures, refreshed (nil, logged, if the SR cannot give them).
    private func stats(_ sr: AttachedSR) -> SRStats? {
        guard !stopped else { return nil }
        do { return try sr.update() } catch {
            log("xapi: SR figures not mirrored: \(error)")
            return nil
        }
    }

    private func records(_ sr: AttachedSR) -> [VDIRecord]? {
        do { return try sr.vdis() } catch {
            log("xapi: not mirrored: the SR's records cannot be read: \(error)")
            return nil
        }
    }

    private func apply(_ steps: [MirrorStep]) {
        for step in steps {
            switch step {
            case let .introduce(record):
                attempt { () throws(XenAPIError) in
                    let ref = try client.vdiDBIntroduce(try introduction(record))
                    vdiRefs[record.uuid] = ref
                }
            case let .forget(uuid, ref):
                forget(uuid, ref: ref)
            case let .update(uuid, ref, changes):
                attempt { () throws(XenAPIError) in try update(try vdiRef(uuid, known: ref), changes) }
            }
        }
    }

    /// db_forget; a record XAPI no longer has is already what was wanted (SM ignores
    /// HANDLE_INVALID and UUID_INVALID here too).
    private func forget(_ uuid: String, ref: String?) {
        attempt { () throws(XenAPIError) in
            do throws(XenAPIError) {
                try client.vdiDBForget(try vdiRef(uuid, known: ref))
            } catch {
                guard error.failureCode == "HANDLE_INVALID" || error.failureCode == "UUID_INVALID" else { throw error }
            }
        }
    }

    private func update(_ ref: String, _ changes: [FieldChange]) throws(XenAPIError) {
        for change in changes {
            switch change {
            case let .virtualSize(n): try client.vdiSetVirtualSize(ref, n)
            case let .physicalUtilisation(n): try client.vdiSetPhysicalUtilisation(ref, n)
            case let .readOnly(flag): try client.vdiSetReadOnly(ref, flag)
            case let .managed(flag): try client.vdiSetManaged(ref, flag)
            case let .smConfig(key, value):
                // add_to_sm_config refuses a key already present, so SM removes it first.
                try client.vdiRemoveFromSMConfig(ref, key: key)
                if let value { try client.vdiAddToSMConfig(ref, key: key, value: value) }
            }
        }
    }

    /// The db_introduce arguments for a record. vdi_create's are XAPI's own arguments
    /// (metadata_of_pool, is_a_snapshot, snapshot_time, snapshot_of), as SM passes them on.
    private func introduction(_ r: VDIRecord) throws(XenAPIError) -> VDIIntroduction {
        var v = VDIIntroduction(uuid: r.uuid, srRef: try srRef(), location: r.location)
        v.nameLabel = r.nameLabel
        v.nameDescription = r.nameDescription
        v.type = r.type
        v.readOnly = r.readOnly
        v.smConfig = r.smConfig.filter { !$0.value.isEmpty }
        v.managed = r.managed
        v.virtualSize = r.virtualSize
        v.physicalUtilisation = r.physicalUtilisation
        if call.command == "vdi_create" {
            let arg = { (i: Int) in i < self.call.args.count ? self.call.args[i] : "" }
            v.metadataOfPool = Self.ref(arg(3)) ?? XenAPIWire.nullRef
            v.isASnapshot = arg(4) == "true"
            v.snapshotTime = arg(5).isEmpty ? XenAPIWire.epoch : arg(5)
            v.snapshotOf = Self.ref(arg(6)) ?? XenAPIWire.nullRef
        } else if r.isASnapshot {
            v.isASnapshot = true
            v.snapshotTime = r.snapshotTime.isEmpty ? XenAPIWire.epoch : r.snapshotTime
            v.snapshotOf = r.snapshotOf.isEmpty ? XenAPIWire.nullRef : try vdiRef(r.snapshotOf)
        }
        return v
    }

    private static func ref(_ text: String) -> String? { text.hasPrefix("OpaqueRef:") ? text : nil }

    // MARK: References

    /// The call's SR: `sr_ref` as XAPI passed it, else looked up by uuid.
    private func srRef() throws(XenAPIError) -> String {
        if let srRefCache { return srRefCache }
        let ref = try client.srByUUID(call.srUUID ?? "")
        srRefCache = ref
        return ref
    }

    /// `known` when given, else the reference learnt or looked up for `uuid`.
    private func vdiRef(_ uuid: String, known: String? = nil) throws(XenAPIError) -> String {
        if let ref = known ?? vdiRefs[uuid] { return ref }
        let ref = try client.vdiByUUID(uuid)
        vdiRefs[uuid] = ref
        return ref
    }

    /// Runs XenAPI calls; a failure is logged, and a transport failure stops the mirror.
    @discardableResult
    private func attempt<T>(_ body: () throws(XenAPIError) -> T) -> T? {
        guard !stopped else { return nil }
        do {
            return try body()
        } catch {
            log("xapi: \(error)" + (error.isTransport ? "; nothing more is mirrored by this call" : ""))
            if error.isTransport { stopped = true }
            return nil
        }
    }
}
