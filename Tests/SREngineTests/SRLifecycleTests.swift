import TestSupport
import Foundation
import ImageFormats
import StorageIO
import Testing

@testable import SREngine

/// Probe, create, attach, destroy; metadata that detects damage; adopting a XenServer SR.
@Suite struct SRLifecycleTests {
    @Test func createProbeAttachDestroy() throws {
        let t = try TestSR()
        #expect(try t.manager.probe(type: "file", deviceConfig: t.deviceConfig) == [t.sr.uuid])
        #expect(throws: SREngineError.configMissing(key: "location")) { try t.manager.probe(type: "file", deviceConfig: [:]) }
        #expect(throws: SREngineError.srExists(uuid: t.sr.uuid)) {
            try t.manager.create(type: "file", deviceConfig: t.deviceConfig, nameLabel: "x", uuid: t.sr.uuid)
        }
        #expect(throws: SREngineError.unknownSRType("nfs4")) { try t.manager.probe(type: "nfs4", deviceConfig: t.deviceConfig) }
        let again = try t.reattach()
        #expect(try again.srRecord().nameLabel == "test")
        let v = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20))
        #expect(throws: SREngineError.srNotEmpty(uuid: t.sr.uuid, vdis: [v.uuid])) { try t.manager.destroy(t.sr) }
        try t.sr.destroyVDI(v.uuid)
        try t.manager.destroy(t.sr)
        #expect(!FileManager.default.fileExists(atPath: t.dir.path + "/" + t.sr.uuid))
        #expect(throws: SREngineError.srNotFound(uuid: t.sr.uuid)) {
            try t.manager.attach(uuid: t.sr.uuid, type: "file", deviceConfig: t.deviceConfig)
        }
    }

    @Test func metadataDamageIsDetected() throws {
        let t = try TestSR()
        _ = try t.sr.createVDI(VDISpec(virtualSize: 8 << 20, nameLabel: "a"))
        let path = "\(t.dir.path)/\(t.sr.uuid)/.sm/metadata"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 5] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect { try t.sr.vdis() } throws: { e in
            guard case .metadataCorrupt(_, let detail) = e as? SREngineError else { return false }
            return detail.contains("checksum")
        }
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: path))
        #expect(throws: SREngineError.self) { try t.sr.vdis() }
    }

    @Test func lockDirectoryIsConfigurable() throws {
        let locks = TempDir()
        let t = try TestSR(options: EngineOptions(lockDirectory: locks.path))
        _ = try t.sr.createVDI(VDISpec(virtualSize: 4 << 20))
        #expect(FileManager.default.fileExists(atPath: "\(locks.path)/\(t.sr.uuid)/sr"))
    }

    /// An SR directory as XenServer leaves it (only `*.vhd`, parents linked by name, a hidden
    /// base copy) is adopted: records built from the images, tree intact.
    @Test func adoptsAXenServerFileSR() throws {
        let dir = TempDir()
        let uuid = UUIDText.random(), base = UUIDText.random(), leaf = UUIDText.random()
        let srdir = "\(dir.path)/\(uuid)"
        try FileManager.default.createDirectory(atPath: srdir, withIntermediateDirectories: true)
        let loop = try EventLoop()
        let bs = try LocalFile.open("\(srdir)/\(base).vhd", on: loop, options: .init(create: true))
        let bf = try VHDCreate.dynamic(on: bs, size: 16 << 20)
        let bimg = try VHDImage.open(bs)
        try bimg.setHidden(true)
        try bimg.close()
        let ls = try LocalFile.open("\(srdir)/\(leaf).vhd", on: loop, options: .init(create: true))
        try VHDCreate.differencing(on: ls, childPath: "\(srdir)/\(leaf).vhd", parentPath: "\(srdir)/\(base).vhd", parent: bf)
        ls.close()

        #expect(try SRManager().probe(type: "file", deviceConfig: ["location": dir.path]) == [uuid])
        let sr = try SRManager().attach(uuid: uuid, type: "file", deviceConfig: ["location": dir.path])
        #expect(sr.recoveryLog.contains { $0.contains("built it from 2 image(s)") })
        let records = Dictionary(uniqueKeysWithValues: try sr.vdis().map { ($0.uuid, $0) })
        #expect(records[base]?.hidden == true && records[base]?.managed == false)
        #expect(records[leaf]?.parent == base && records[leaf]?.virtualSize == 16 << 20)
        try expectConsistent(sr)
    }
}
