import Foundation
import SREngine
import TestSupport
import Testing
import XMLRPC
@testable import XenAPI

/// The real sm-plugin, run as XAPI runs it with a session: the exact XenAPI calls it makes
/// to mirror each command into XAPI's database (as SM's FileSR does), and that the command
/// succeeds alone when XAPI cannot be reached or refuses a call.
@Suite(.serialized) struct PluginMirrorTests {
    static let session = XAPICall("x").sessionRef!
    static let epoch = XMLRPCValue.dateTime("19700101T00:00:00Z")

    func srRef(_ sr: String) -> String { "OpaqueRef:sr-" + sr.prefix(8) }
    func vdiRef(_ vdi: String) -> String { "OpaqueRef:vdi-" + vdi.prefix(8) }
    func size(_ n: UInt64) -> XMLRPCValue { .string("\(n)") }

    /// SR.set_virtual_allocation / physical_size / physical_utilisation, SM's order.
    func expectFigures(_ calls: ArraySlice<RecordingXAPI.Call>, sr: String, virtualAllocation: UInt64,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(calls.map(\.method) == ["SR.set_virtual_allocation", "SR.set_physical_size", "SR.set_physical_utilisation"],
                sourceLocation: sourceLocation)
        guard calls.count == 3 else { return }
        let c = Array(calls)
        #expect(c[0].params == [.string(srRef(sr)), size(virtualAllocation)], sourceLocation: sourceLocation)
        for call in c[1...] {
            #expect(call.params.first == .string(srRef(sr)), sourceLocation: sourceLocation)
            #expect(call.params.last?.stringValue.flatMap { UInt64($0) } != nil, sourceLocation: sourceLocation)
        }
    }

    /// db_introduce's nineteen arguments for an engine record.
    func introduction(_ r: VDIRecord, sr: String, isASnapshot: Bool = false, time: XMLRPCValue = Self.epoch,
                      snapshotOf: String = "OpaqueRef:NULL") -> [XMLRPCValue] {
        [.string(r.uuid), .string(r.nameLabel), .string(r.nameDescription), .string(srRef(sr)), .string(r.type), .bool(false),
         .bool(r.readOnly), .structure([]), .string(r.uuid), .structure([]), XenAPIWire.map(r.smConfig), .bool(r.managed),
         size(r.virtualSize), size(r.physicalUtilisation), .string("OpaqueRef:NULL"), .bool(isASnapshot), time,
         .string(snapshotOf), .bool(false)]
    }

    @Test func vdiCreateIntroducesTheRecord() throws {
        let (host, sr) = try MirrorHost.withSR()
        var create = host.createCall(sr, label: "data disk")
        create.subtaskOf = "OpaqueRef:task-1"
        let vdi = try #require(try host.ok(create)["uuid"]?.stringValue)
        let record = try #require(try host.records(sr)[vdi])
        let calls = host.xapi.calls
        #expect(calls.map(\.method).first == "VDI.db_introduce")
        #expect(calls.first?.params == introduction(record, sr: sr))
        #expect(record.smConfig == ["vdi_type": "vhd"] && record.nameLabel == "data disk")
        expectFigures(calls.dropFirst(), sr: sr, virtualAllocation: 8 << 20)
        #expect(calls.allSatisfy { $0.session == Self.session && $0.headers["subtask-of"] == "OpaqueRef:task-1" })
    }

    /// Double snapshot and clone: the new leaf (vhd-parent = base), the base copy (hidden:
    /// read-only, unmanaged), the original re-parented in sm-config, then the SR's figures.
    @Test(arguments: [false, true]) func snapshotAndClone(clone: Bool) throws {
        let (host, sr) = try MirrorHost.withSR()
        let vdi = try host.makeVDI(sr)
        let before = try #require(try host.records(sr)[vdi])
        let leaf = try #require(try host.ok(XAPICall(clone ? "vdi_clone" : "vdi_snapshot", location: host.location, sr: sr,
                                                    vdi: vdi))["uuid"]?.stringValue)
        let records = try host.records(sr)
        let original = try #require(records[vdi]), new = try #require(records[leaf])
        let base = try #require(original.parent)
        let baseRecord = try #require(records[base])
        #expect(new.parent == base && baseRecord.hidden && !baseRecord.managed && baseRecord.nameLabel == "base copy")
        var expected: [(String, [XMLRPCValue])] = [
            ("VDI.db_introduce", introduction(new, sr: sr, isASnapshot: !clone,
                                              time: clone ? Self.epoch : .dateTime(new.snapshotTime),
                                              snapshotOf: clone ? "OpaqueRef:NULL" : vdiRef(vdi))),
            ("VDI.db_introduce", introduction(baseRecord, sr: sr)),
        ]
        if original.physicalUtilisation != before.physicalUtilisation {
            expected.append(("VDI.set_physical_utilisation", [.string(vdiRef(vdi)), size(original.physicalUtilisation)]))
        }
        expected += [("VDI.remove_from_sm_config", [.string(vdiRef(vdi)), .string("vhd-parent")]),
                     ("VDI.add_to_sm_config", [.string(vdiRef(vdi)), .string("vhd-parent"), .string(base)])]
        let calls = host.xapi.calls
        #expect(calls.prefix(expected.count).map(\.method) == expected.map(\.0))
        for (call, want) in zip(calls, expected) { #expect(call.params == want.1, "\(call.method)") }
        expectFigures(calls.dropFirst(expected.count), sr: sr, virtualAllocation: 16 << 20)
    }

    @Test func resizeSetsTheVirtualSize() throws {
        let (host, sr) = try MirrorHost.withSR()
        let vdi = try host.makeVDI(sr)
        let before = try #require(try host.records(sr)[vdi])
        try host.ok(XAPICall("vdi_resize", location: host.location, sr: sr, vdi: vdi, args: ["\(16 << 20)"]))
        let after = try #require(try host.records(sr)[vdi])
        var expected = ["VDI.set_virtual_size"]
        if after.physicalUtilisation != before.physicalUtilisation { expected.append("VDI.set_physical_utilisation") }
        let calls = host.xapi.calls
        #expect(calls.prefix(expected.count).map(\.method) == expected)
        #expect(calls.first?.params == [.string(vdiRef(vdi)), size(16 << 20)])
        expectFigures(calls.dropFirst(expected.count), sr: sr, virtualAllocation: 16 << 20)
    }

    /// vdi_delete forgets the record (FileSR's `_db_forget`); deleting a snapshot leaves the
    /// base copy, which the original still needs.
    @Test func deleteForgetsTheRecord() throws {
        let (host, sr) = try MirrorHost.withSR()
        let vdi = try host.makeVDI(sr)
        let snap = try #require(try host.alone(XAPICall("vdi_snapshot", location: host.location, sr: sr, vdi: vdi))["uuid"]?.stringValue)
        try host.ok(XAPICall("vdi_delete", location: host.location, sr: sr, vdi: snap))
        var calls = host.xapi.calls
        #expect(calls.first?.method == "VDI.db_forget" && calls.first?.params == [.string(vdiRef(snap))])
        expectFigures(calls.dropFirst(), sr: sr, virtualAllocation: 8 << 20)

        let base = try #require(try host.records(sr)[vdi]?.parent)
        host.xapi.clear()
        try host.ok(XAPICall("vdi_delete", location: host.location, sr: sr, vdi: vdi))
        calls = host.xapi.calls
        // The base copy went with its last child: forgotten too, its reference looked up.
        let forgotten = Set(calls.prefix(3).filter { $0.method == "VDI.db_forget" }.compactMap { $0.params.first?.stringValue })
        #expect(forgotten == [vdiRef(vdi), vdiRef(base)])
        #expect(calls.prefix(3).filter { $0.method == "VDI.get_by_uuid" }.map(\.params) == [[.string(base)]])
        expectFigures(calls.dropFirst(3), sr: sr, virtualAllocation: 0)
        #expect(try host.records(sr).isEmpty)
    }

    /// sr_scan diffs XAPI's records with the SR's by location: new → db_introduce, gone →
    /// db_forget, changed → the changed fields; an in-sync record gets no call.
    @Test func scanSynchronisesByLocation() throws {
        let (host, sr) = try MirrorHost.withSR()
        let ids = try ["a", "b", "c"].map { try host.makeVDI(sr, label: $0) }
        try host.alone(XAPICall("sr_update", location: host.location, sr: sr))
        let records = try host.records(sr)
        let a = try #require(records[ids[0]]), b = try #require(records[ids[1]]), c = try #require(records[ids[2]])
        let gone = UUID().uuidString.lowercased()
        func held(_ r: VDIRecord, virtualSize: UInt64? = nil) -> (ref: String, record: XMLRPCValue) {
            ("OpaqueRef:held-" + r.uuid.prefix(8),
             RecordingXAPI.record(uuid: r.uuid, location: r.location, virtualSize: virtualSize ?? r.virtualSize,
                                  physicalUtilisation: r.physicalUtilisation, smConfig: r.smConfig.merging(["host_x": "RW"]) { o, _ in o }))
        }
        host.xapi.holdRecords([held(a), held(c, virtualSize: 1),
                               ("OpaqueRef:gone", RecordingXAPI.record(uuid: gone, location: gone, virtualSize: 1,
                                                                       physicalUtilisation: 1, smConfig: [:]))])
        try host.ok(XAPICall("sr_scan", location: host.location, sr: sr))
        let calls = host.xapi.calls
        expectFigures(calls.prefix(3), sr: sr, virtualAllocation: 24 << 20)
        #expect(calls.dropFirst(3).map(\.method) == ["VDI.get_all_records_where", "VDI.db_introduce", "VDI.db_forget",
                                                     "VDI.set_virtual_size"])
        guard calls.count == 7 else { return }
        #expect(calls[3].params == [.string("field \"SR\" = \"\(srRef(sr))\"")])
        #expect(calls[4].params == introduction(b, sr: sr))
        #expect(calls[5].params == [.string("OpaqueRef:gone")])
        #expect(calls[6].params == [.string("OpaqueRef:held-" + c.uuid.prefix(8)), size(c.virtualSize)])
    }

    /// SM scans after attaching on the master: XAPI learns every VDI the SR holds.
    @Test func masterAttachIntroducesEverything() throws {
        let (host, sr) = try MirrorHost.withSR()
        for label in ["a", "b"] { _ = try host.makeVDI(sr, label: label) }
        try host.ok(XAPICall("sr_attach", location: host.location, sr: sr))
        #expect(host.xapi.methods == ["SR.set_virtual_allocation", "SR.set_physical_size", "SR.set_physical_utilisation",
                                      "VDI.get_all_records_where", "VDI.db_introduce", "VDI.db_introduce"])
        host.xapi.clear()
        var slave = XAPICall("sr_attach", location: host.location, sr: sr)
        slave.srMaster = false
        try host.ok(slave)
        #expect(host.xapi.calls.isEmpty)
    }

    @Test func srUpdateSendsTheFigures() throws {
        let (host, sr) = try MirrorHost.withSR()
        _ = try host.makeVDI(sr)
        try host.ok(XAPICall("sr_update", location: host.location, sr: sr))
        expectFigures(host.xapi.calls[...], sr: sr, virtualAllocation: 8 << 20)
    }

    /// vdi_update re-sends the whole record, as SM's `_db_update`.
    @Test func vdiUpdateResendsTheRecord() throws {
        let (host, sr) = try MirrorHost.withSR()
        let vdi = try host.makeVDI(sr)
        try host.ok(XAPICall("vdi_update", location: host.location, sr: sr, vdi: vdi))
        let r = try #require(try host.records(sr)[vdi])
        let ref = XMLRPCValue.string(vdiRef(vdi))
        #expect(host.xapi.calls.map(\.wire) == [
            "VDI.set_virtual_size \(ref.wire) s:\(r.virtualSize)",
            "VDI.set_physical_utilisation \(ref.wire) s:\(r.physicalUtilisation)",
            "VDI.set_read_only \(ref.wire) b:false", "VDI.set_managed \(ref.wire) b:true",
            "VDI.remove_from_sm_config \(ref.wire) s:vhd-parent",
            "VDI.remove_from_sm_config \(ref.wire) s:vdi_type", "VDI.add_to_sm_config \(ref.wire) s:vdi_type s:vhd",
        ])
    }

    /// vdi_introduce: the record XAPI will look up (SM's introduce is `_db_introduce`).
    @Test func vdiIntroduceIntroducesTheRecord() throws {
        let (host, sr) = try MirrorHost.withSR()
        let vdi = try host.makeVDI(sr)
        var call = XAPICall("vdi_introduce", location: host.location, sr: sr)
        call.vdiLocation = vdi
        call.newUUID = vdi
        call.vdiSMConfig = []
        try host.ok(call)
        let record = try #require(try host.records(sr)[vdi])
        #expect(host.xapi.methods == ["VDI.db_introduce"])
        #expect(host.xapi.calls.first?.params == introduction(record, sr: sr))
    }

    @Test func withoutASessionNothingIsCalled() throws {
        let (host, sr) = try MirrorHost.withSR()
        _ = try host.makeVDI(sr)
        try host.alone(XAPICall("vdi_resize", location: host.location, sr: sr, vdi: try host.makeVDI(sr), args: ["\(16 << 20)"]))
        #expect(host.xapi.calls.isEmpty)
    }

    /// A refused call is logged and the rest goes on; the command succeeds (the SR's
    /// metadata is authoritative). A gone record XAPI no longer knows is not an error.
    @Test func refusedCallsAreLogged() throws {
        let (host, sr) = try MirrorHost.withSR()
        host.xapi.answer("VDI.db_introduce", with: .failure(["SR_BACKEND_FAILURE", "x"]))
        let (message, stderr) = try host.run(host.createCall(sr))
        guard case let .response(value) = message else { Issue.record("\(message)"); return }
        #expect(value["uuid"]?.stringValue != nil)
        #expect(stderr.contains("xapi: VDI.db_introduce failed: SR_BACKEND_FAILURE x"))
        #expect(host.xapi.methods.count == 4)

        host.xapi.answer("VDI.db_forget", with: .failure(["HANDLE_INVALID", "VDI", "OpaqueRef:x"]))
        let vdi = try #require(value["uuid"]?.stringValue)
        let (_, deleteErr) = try host.run(XAPICall("vdi_delete", location: host.location, sr: sr, vdi: vdi))
        #expect(!deleteErr.contains("xapi:"))
    }

    /// No xapi, or one that never answers: one failed attempt, logged, then the plugin
    /// works alone (no call per record, no timeout per record).
    @Test func unreachableOrSilentXAPI() throws {
        let (host, sr) = try MirrorHost.withSR()
        host.environment["SM_XAPI_URL"] = "unix:" + host.dir.file("absent.sock")
        var (message, stderr) = try host.run(host.createCall(sr))
        #expect(message.isResponse)
        #expect(stderr.components(separatedBy: "xapi:").count == 2 && stderr.contains("cannot connect"))

        host.environment["SM_XAPI_URL"] = "\(host.xapi.endpoint)"
        host.environment["SM_XAPI_TIMEOUT"] = "0.3"
        host.xapi.answer("VDI.db_introduce", with: .silence)
        host.xapi.clear()
        let start = Date()
        (message, stderr) = try host.run(host.createCall(sr))
        #expect(message.isResponse && Date().timeIntervalSince(start) < 10)
        #expect(host.xapi.methods == ["VDI.db_introduce"])
        #expect(stderr.contains("did not complete within 0.3 s; nothing more is mirrored"))
    }

    /// A bad endpoint setting is reported and the command runs alone.
    @Test func badEndpointSetting() throws {
        let (host, sr) = try MirrorHost.withSR()
        host.environment["SM_XAPI_URL"] = "https://xapi"
        let (message, stderr) = try host.run(host.createCall(sr))
        #expect(message.isResponse && stderr.contains("xapi: not mirrored: bad XenAPI endpoint 'https://xapi'"))
    }
}

extension XMLRPCMessage {
    var isResponse: Bool { if case .response = self { true } else { false } }
}
