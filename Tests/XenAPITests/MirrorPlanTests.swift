import SREngine
import Testing
@testable import SMPlugin

/// The diff that decides the mirror's calls, without XAPI.
@Suite struct MirrorPlanTests {
    func record(_ uuid: String, parent: String? = nil, hidden: Bool = false, size: UInt64 = 8 << 20) -> VDIRecord {
        var r = VDIRecord(uuid: uuid, readOnly: hidden, managed: !hidden, hidden: hidden, virtualSize: size,
                          physicalUtilisation: 100, smConfig: ["vdi_type": "vhd"])
        r.parent = parent
        return r
    }

    func known(_ r: VDIRecord, ref: String? = nil) -> KnownVDI {
        KnownVDI(uuid: r.uuid, ref: ref, location: r.location, fields: MirroredFields(r))
    }

    @Test func hiddenLeavesAreDropped() {
        let base = record("b", hidden: true), leaf = record("l", parent: "b"), garbage = record("g", hidden: true)
        #expect(MirrorPlan.visible([base, leaf, garbage]).map(\.uuid) == ["b", "l"])
    }

    /// A double snapshot: the new leaf, then the base copy, then the original re-parented.
    @Test func snapshotOrder() {
        let before = record("o")
        let after = [record("b", hidden: true), record("o", parent: "b"), record("n", parent: "b")]
        #expect(MirrorPlan.steps(known: [known(before)], now: after) == [
            .introduce(after[2]), .introduce(after[0]),
            .update(uuid: "o", ref: nil, changes: [.smConfig(key: "vhd-parent", value: "b")]),
        ])
    }

    @Test func goneAndChanged() {
        let kept = record("k"), gone = record("g")
        var grown = kept
        grown.virtualSize = 16 << 20
        grown.physicalUtilisation = 200
        #expect(MirrorPlan.steps(known: [known(kept, ref: "R1"), known(gone, ref: "R2")], now: [grown]) == [
            .forget(uuid: "g", ref: "R2"),
            .update(uuid: "k", ref: "R1", changes: [.virtualSize(16 << 20), .physicalUtilisation(200)]),
        ])
        #expect(MirrorPlan.steps(known: [known(kept)], now: [kept]).isEmpty)
    }

    /// Keys XAPI owns (host_*, paused) are never compared or touched.
    @Test func onlyOwnedSMConfigKeys() {
        let fields = MirroredFields(virtualSize: 1, physicalUtilisation: 1, readOnly: false, managed: true,
                                    smConfig: ["vhd-parent": "p", "host_OpaqueRef:h": "RW", "paused": "true", "vdi_type": ""])
        #expect(fields.smConfig == ["vhd-parent": "p"])
        #expect(MirrorPlan.changes(from: nil, to: fields) == [
            .virtualSize(1), .physicalUtilisation(1), .readOnly(false), .managed(true),
            .smConfig(key: "vhd-parent", value: "p"), .smConfig(key: "vdi_type", value: nil),
        ])
    }
}
