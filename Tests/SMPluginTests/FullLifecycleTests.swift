import Foundation
import Glibc
import SREngine
import Testing
import XMLRPC

/// Issue #8's "Must show": a VDI's whole life through the plugin alone, run exactly as XAPI
/// runs it (`FileSR '<methodCall>…'`), its data written and read through the NBD URIs the
/// plugin answers with qemu's tools and checked against the expected bytes at every step.
///
/// The collector runs inside vdi_delete and sr_scan (`SM_GC_KICK=synchronous`), so the chain
/// shape can be checked right after each call: garbage removed, base copies coalesced.
@Suite struct FullLifecycleTests {
    static let runnable = AttachTests.tapdisk != nil && ExpectedDisk.toolsPresent

    @Test(.enabled(if: runnable, "needs sm-tapdisk built next to sm-plugin, qemu-img and qemu-io"))
    func fullLifecycleThroughThePlugin() throws {
        try PluginLifecycle().run(expectOnlineLeafCoalesce: false)
    }

    /// The same life, also requiring that deleting the clone leaves the still-attached leaf
    /// as a one-image chain: the collector asks the daemon serving it to merge it into its
    /// base copy online (pause, swap, unpause), as SM's live leaf-coalesce does.
    @Test(.enabled(if: runnable, "needs sm-tapdisk built next to sm-plugin, qemu-img and qemu-io"))
    func onlineLeafCoalesceLeavesOneImageWhileAttached() throws {
        try PluginLifecycle().run(expectOnlineLeafCoalesce: true)
    }
}

/// One run of the lifecycle: a host with an SM directory, a file SR and the data-path
/// daemon next to the plugin.
final class PluginLifecycle {
    static let mib = 1 << 20
    let host: PluginHost
    let sr = UUID().uuidString.lowercased()
    let size = 16 << 20
    var loc: String { host.location }

    init() throws {
        host = try PluginHost()
        host.environment["SM_TAPDISK"] = nil  // the sm-tapdisk next to the plugin
        host.environment["SM_GC_KICK"] = "synchronous"
    }

    func call(_ command: String, vdi: String? = nil, args: [String] = []) -> XAPICall {
        XAPICall(command, location: loc, sr: sr, vdi: vdi, args: args)
    }

    func run(expectOnlineLeafCoalesce: Bool) throws {
        defer { killDaemons(under: host.runDirectory) }
        #expect(try host.ok(call("sr_create", args: ["0"])) == .nil)
        #expect(try host.ok(call("sr_attach")) == .nil)
        var create = call("vdi_create", args: XAPICall.createArgs(size: "\(size)", label: "lifecycle"))
        create.vdiType = "user"
        create.vdiSMConfig = []
        let vdi = try #require(try host.ok(create)["uuid"]?.stringValue)

        var disk = ExpectedDisk(size: size, scratch: host.dir.path)
        let uri = try attach(vdi, writable: true)
        let daemon = try #require(pid(of: vdi))
        try disk.matches(uri, "a new VDI reads as zeros")
        try disk.convert(ExpectedDisk.pattern(3 * Self.mib, seed: 1), at: 0, into: uri)
        try disk.write(ExpectedDisk.pattern(Self.mib / 2, seed: 2), at: 10 * Self.mib, into: uri)
        try disk.matches(uri, "written before any snapshot")

        let (snapshot, atSnapshot) = try snapshotWhileActive(vdi, uri: uri, disk: &disk)
        let (clone, atClone) = try cloneWhileActive(vdi, uri: uri, disk: &disk, snapshot: snapshot, atSnapshot: atSnapshot)
        #expect(pid(of: vdi) == daemon, "the daemon serving the leaf changed")

        try deleteSnapshot(snapshot, leaf: vdi, clone: clone, uri: uri, disk: disk, atClone: atClone)
        try deleteClone(clone, leaf: vdi, uri: uri, disk: disk, oneImage: expectOnlineLeafCoalesce)
        #expect(pid(of: vdi) == daemon, "the daemon serving the leaf changed")

        try detach(vdi)
        try collectedAfterDetach(vdi, disk: disk)
        try host.ok(call("vdi_delete", vdi: vdi))
        #expect(host.images(sr).isEmpty)
        #expect(try host.ok(call("sr_detach")) == .nil)
        #expect(try host.ok(call("sr_delete")) == .nil)
        #expect(!FileManager.default.fileExists(atPath: loc + "/" + sr))
    }

    /// vdi_snapshot of the active VDI: the snapshot holds the data before, the leaf (still
    /// served by the same daemon) the data after; both share a hidden base copy.
    func snapshotWhileActive(_ vdi: String, uri: String, disk: inout ExpectedDisk) throws -> (String, ExpectedDisk) {
        let snapshot = try #require(try host.ok(call("vdi_snapshot", vdi: vdi))["uuid"]?.stringValue)
        let atSnapshot = disk
        let r = try records()
        let base = try #require(r[vdi]?.parent)
        #expect(r[base]?.hidden == true && r[base]?.parent == nil)
        #expect(r[snapshot]?.parent == base && r[snapshot]?.isASnapshot == true && r[snapshot]?.snapshotOf == vdi)
        #expect(host.images(sr).count == 3, "\(host.images(sr))")
        try disk.matches(uri, "the leaf right after the snapshot")
        try disk.write(ExpectedDisk.pattern(Self.mib, seed: 3), at: 3 * Self.mib / 2, into: uri)
        try disk.write(ExpectedDisk.pattern(64 << 10, seed: 4), at: 14 * Self.mib, into: uri)
        try disk.matches(uri, "the leaf after writes that followed the snapshot")
        try expectContent(of: snapshot, atSnapshot, "the snapshot holds the data written before it")
        return (snapshot, atSnapshot)
    }

    /// vdi_clone of the active VDI: a second base copy below the first, the clone beside the leaf.
    func cloneWhileActive(_ vdi: String, uri: String, disk: inout ExpectedDisk, snapshot: String,
                          atSnapshot: ExpectedDisk) throws -> (String, ExpectedDisk) {
        let firstBase = try #require(try records()[vdi]?.parent)
        let clone = try #require(try host.ok(call("vdi_clone", vdi: vdi))["uuid"]?.stringValue)
        let atClone = disk
        let r = try records()
        let base = try #require(r[vdi]?.parent)
        #expect(base != firstBase && r[base]?.hidden == true && r[base]?.parent == firstBase)
        #expect(r[clone]?.parent == base && r[clone]?.isASnapshot == false)
        #expect(host.images(sr).count == 5, "\(host.images(sr))")
        try disk.write(ExpectedDisk.pattern(4096, seed: 5), at: 0, into: uri)
        try disk.write(ExpectedDisk.pattern(512, seed: 6), at: 7 * Self.mib + 512, into: uri)
        try disk.matches(uri, "the leaf after writes that followed the clone")
        try expectContent(of: clone, atClone, "the clone holds the data at the clone")
        try expectContent(of: snapshot, atSnapshot, "the snapshot is unchanged by the clone")
        return (clone, atClone)
    }

    /// vdi_delete of the snapshot: the first base copy keeps one child, the second base copy,
    /// which the collector coalesces into it (pausing the daemon serving the leaf below).
    func deleteSnapshot(_ snapshot: String, leaf: String, clone: String, uri: String, disk: ExpectedDisk,
                        atClone: ExpectedDisk) throws {
        let before = try records()
        let secondBase = try #require(before[leaf]?.parent)
        let firstBase = try #require(before[secondBase]?.parent)
        #expect(try host.ok(call("vdi_delete", vdi: snapshot)) == .nil)
        let r = try records()
        #expect(r[snapshot] == nil)
        #expect(r[secondBase] == nil, "the second base copy was not coalesced into the first")
        #expect(r[leaf]?.parent == firstBase && r[clone]?.parent == firstBase && r[firstBase]?.hidden == true)
        #expect(host.images(sr) == [firstBase, leaf, clone].map { $0 + ".vhd" }.sorted())
        try disk.matches(uri, "the leaf after its base copies were coalesced")
        try expectContent(of: clone, atClone, "the clone after the coalesce")
    }

    /// vdi_delete of the clone: the base copy's only child is now the attached leaf. Merging
    /// it is the daemon's job (online leaf-coalesce); until then the chain stays two images.
    func deleteClone(_ clone: String, leaf: String, uri: String, disk: ExpectedDisk, oneImage: Bool) throws {
        #expect(try host.ok(call("vdi_delete", vdi: clone)) == .nil)
        let r = try records()
        #expect(r[clone] == nil)
        if oneImage {
            #expect(host.images(sr) == [leaf + ".vhd"], "the attached leaf was not merged online: \(host.images(sr))")
            #expect(r.count == 1 && r[leaf]?.parent == nil && r[leaf]?.hidden == false)
        } else {
            #expect(r.count <= 2 && host.images(sr).count == r.count, "\(host.images(sr))")
            if let base = r[leaf]?.parent { #expect(r[base]?.hidden == true && r[base]?.parent == nil) }
        }
        try disk.matches(uri, "the leaf after the clone was deleted")
    }

    /// After detach the leaf is nobody's: sr_scan's collector merges it (if online merging
    /// did not), leaving one image that qemu's own VHD driver reads as expected.
    func collectedAfterDetach(_ vdi: String, disk: ExpectedDisk) throws {
        #expect(try host.ok(call("sr_scan")) == .nil)
        let r = try records()
        #expect(Array(r.keys) == [vdi] && r[vdi]?.parent == nil && r[vdi]?.hidden == false)
        #expect(host.images(sr) == [vdi + ".vhd"])
        try disk.matches("\(loc)/\(sr)/\(vdi).vhd", format: "vpc", "the one-image VDI read by qemu's VHD driver")
        try expectContent(of: vdi, disk, "the VDI attached again after the collector ran")
    }

    // MARK: Attach, detach, inspection

    /// vdi_attach and vdi_activate, the answer's shape checked; the NBD URI it names.
    func attach(_ vdi: String, writable: Bool) throws -> String {
        let flag = writable ? "true" : "false"
        let r = try host.ok(call("vdi_attach", vdi: vdi, args: [flag]))
        guard case let .structure(members) = r else { Issue.record("vdi_attach answered \(r)"); return "" }
        #expect(members.map(\.0) == ["params", "params_nbd", "o_direct", "o_direct_reason", "xenstore_data"])
        let socket = "\(host.runDirectory)/\(sr)/\(vdi).sock"
        let uri = "nbd+unix:///\(vdi)?socket=\(socket)"
        #expect(r["params"] == .string(uri))
        #expect(r["params_nbd"] == .string("nbd:unix:\(socket):exportname=\(vdi)"))
        #expect(try host.ok(call("vdi_activate", vdi: vdi, args: [flag])) == .nil)
        return uri
    }

    /// vdi_deactivate and vdi_detach: the daemon is gone, and so is its socket.
    func detach(_ vdi: String) throws {
        let daemon = pid(of: vdi)
        #expect(try host.ok(call("vdi_deactivate", vdi: vdi)) == .nil)
        #expect(try host.ok(call("vdi_detach", vdi: vdi)) == .nil)
        if let daemon { #expect(kill(daemon, 0) != 0 || AttachTests.isZombie(daemon), "sm-tapdisk \(daemon) outlived detach") }
        #expect(!FileManager.default.fileExists(atPath: "\(host.runDirectory)/\(sr)/\(vdi).sock"))
    }

    /// Reads `vdi` through a read-only attach of its own, then detaches it.
    func expectContent(of vdi: String, _ expected: ExpectedDisk, _ step: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let uri = try attach(vdi, writable: false)
        try expected.matches(uri, step, sourceLocation: sourceLocation)
        try detach(vdi)
    }

    func pid(of vdi: String) -> pid_t? {
        (try? String(contentsOfFile: "\(host.runDirectory)/\(sr)/\(vdi).pid", encoding: .utf8))
            .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// The SR's records by uuid, read with the engine: inspection only, every change above
    /// goes through the plugin.
    func records() throws -> [String: VDIRecord] {
        let engine = try SRManager().attach(uuid: sr, type: "file", deviceConfig: ["location": loc])
        return Dictionary(uniqueKeysWithValues: try engine.vdis().map { ($0.uuid, $0) })
    }
}
