import Foundation
import SREngine
import Testing
import XMLRPC

/// XAPI runs plugin processes for one SR at the same time (different VDIs, and attach on
/// several hosts' behalf); the SR must come out consistent and one VDI served once.
@Suite struct ConcurrencyTests {
    @Test func parallelCreatesAndSnapshotsKeepTheSRConsistent() throws {
        let host = try PluginHost()
        let sr = try host.makeSR()
        let seeds = try (0..<3).map { _ in try host.makeVDI(sr) }
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: 9) { i in
            let call = i < 6
                ? XAPICall("vdi_create", location: host.location, sr: sr, args: XAPICall.createArgs(size: "\(4 << 20)"))
                : XAPICall("vdi_snapshot", location: host.location, sr: sr, vdi: seeds[i - 6])
            results.add((try? host.runRaw([call.text]))?.result?["uuid"]?.stringValue)
        }
        let made = results.values
        #expect(made.count == 9 && made.allSatisfy { $0 != nil })
        #expect(Set(made.compactMap { $0 }).count == 9)
        // Records and images agree: a scan finds nothing to change.
        let engine = try SRManager().attach(uuid: sr, type: "file", deviceConfig: ["location": host.location])
        #expect(try engine.scan() == [])
        #expect(try engine.vdis().count == 3 + 6 + 3 * 2)
        #expect(host.images(sr).count == 3 + 6 + 3 * 2)
    }

    @Test(.enabled(if: AttachTests.tapdisk != nil, "sm-tapdisk is not built next to sm-plugin"))
    func parallelAttachesStartOneDaemon() throws {
        let host = try PluginHost()
        host.environment["SM_TAPDISK"] = nil
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        let attach = XAPICall("vdi_attach", location: host.location, sr: sr, vdi: vdi, args: ["true"])
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            results.add((try? host.runRaw([attach.text]))?.result?["params_nbd"]?.stringValue)
        }
        #expect(results.values.count == 4 && Set(results.values).count == 1 && results.values[0] != nil)
        let daemons = try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { Int32($0) }.filter { pid in
            let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { String(decoding: $0, as: UTF8.self) } ?? ""
            return cmd.contains("sm-tapdisk") && cmd.contains(vdi) && !AttachTests.isZombie(pid)
        }
        #expect(daemons.count == 1)
        try host.ok(XAPICall("vdi_detach", location: host.location, sr: sr, vdi: vdi))
    }
}

/// Collects results from concurrent workers.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String?] = []
    func add(_ item: String?) { lock.lock(); items.append(item); lock.unlock() }
    var values: [String?] { lock.lock(); defer { lock.unlock() }; return items }
}
