import Foundation
import Glibc
import ImageFormats
import NFSStore
@testable import SREngine
import StorageIO
import Testing
import TestSupport

/// The `nfs` SR against a real nfs-ganesha (NFSv3): the VDI lifecycle through SRManager and
/// AttachedSR, XenServer's layout on the server, probe, and the lease between two hosts.
extension NFSServerTests {
@Suite struct NFSSRTests {
    static let mib: UInt64 = 1 << 20

    /// Writes `byte` over `[offset, offset+length)` of a VDI and reads it back through the engine.
    static func fill(_ sr: AttachedSR, _ vdi: String, byte: UInt8, at offset: UInt64, length: Int) throws {
        let handle = try sr.openData(vdi, writable: true)
        let store = DiskImageStore(image: handle.image)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 4096)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: byte)
        try store.write(UnsafeRawBufferPointer(buffer), at: offset)
        try store.flush()
        try handle.close()
    }

    static func read(_ sr: AttachedSR, _ vdi: String, at offset: UInt64, length: Int) throws -> [UInt8] {
        let handle = try sr.openData(vdi, writable: false)
        defer { try? handle.close() }
        let store = DiskImageStore(image: handle.image)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 4096)
        defer { buffer.deallocate() }
        try store.read(into: buffer, at: offset)
        return Array(buffer)
    }

    @Test func vdiLifecycleOverNFSv3() throws {
        let dir = TempDir(prefix: "nfs"), locks = TempDir(prefix: "nfslock")
        let server = try GaneshaServer.start(in: dir.path)
        defer { server.stop() }
        let manager = SRManager(options: EngineOptions(lockDirectory: locks.path))
        let config = server.deviceConfig()
        let sr = try manager.create(type: "nfs", deviceConfig: config, nameLabel: "shared")
        let export = server.exportDirectory + "/" + sr.uuid

        let vdi = try sr.createVDI(VDISpec(virtualSize: 64 * Self.mib, nameLabel: "disk")).uuid
        #expect(FileManager.default.fileExists(atPath: "\(export)/\(vdi).vhd"), "XenServer's layout: serverpath/<sr>/<vdi>.vhd")
        try Self.fill(sr, vdi, byte: 0xA1, at: 3 * Self.mib, length: 1 << 20)

        let snap = try sr.snapshot(vdi).uuid
        let clone = try sr.snapshot(vdi, clone: true).uuid
        try Self.fill(sr, vdi, byte: 0xB2, at: 3 * Self.mib, length: 4096)
        #expect(try Self.read(sr, snap, at: 3 * Self.mib, length: 4096) == [UInt8](repeating: 0xA1, count: 4096))
        #expect(try Self.read(sr, clone, at: 3 * Self.mib, length: 4096) == [UInt8](repeating: 0xA1, count: 4096))
        #expect(try Self.read(sr, vdi, at: 3 * Self.mib, length: 4096) == [UInt8](repeating: 0xB2, count: 4096))

        let resized = try sr.resizeVDI(vdi, to: 128 * Self.mib)
        #expect(resized.virtualSize == 128 * Self.mib)
        #expect(try Self.read(sr, vdi, at: 100 * Self.mib, length: 4096) == [UInt8](repeating: 0, count: 4096))

        // The images are real VHDs on the server, as qemu-img sees them.
        if toolPath("qemu-img") != nil {
            let info = try runTool("qemu-img", ["info", "-f", "vpc", "\(export)/\(vdi).vhd"])
            #expect(info.status == 0 && info.output.contains("128 MiB"), "\(info.output)")
        }

        try sr.destroyVDI(clone)
        try sr.destroyVDI(snap)
        _ = try sr.scan()
        let report = try sr.collectGarbage()
        #expect(report.noSpace == nil)
        #expect(try Self.read(sr, vdi, at: 3 * Self.mib, length: 4096) == [UInt8](repeating: 0xB2, count: 4096))
        #expect(try Self.read(sr, vdi, at: 3 * Self.mib + 4096, length: 4096) == [UInt8](repeating: 0xA1, count: 4096))
        #expect(try sr.verify().problems.isEmpty)

        // Another attach (another process would do the same) sees the same SR.
        let again = try SRManager(options: EngineOptions(lockDirectory: locks.path)).attach(uuid: sr.uuid, type: "nfs", deviceConfig: config)
        #expect(try again.vdis().map(\.uuid).contains(vdi))
        #expect(try manager.probe(type: "nfs", deviceConfig: config) == [sr.uuid])

        #expect(throws: SREngineError.self) { try manager.destroy(sr) }  // not empty
        for v in try sr.vdis() where !v.hidden { try sr.destroyVDI(v.uuid) }
        _ = try sr.collectGarbage()
        try manager.destroy(sr)
        #expect(!FileManager.default.fileExists(atPath: export))
    }

    @Test func probeWithoutServerPathListsExports() throws {
        let dir = TempDir(prefix: "nfs")
        let server = try GaneshaServer.start(in: dir.path)
        defer { server.stop() }
        let manager = SRManager()
        do {
            _ = try manager.probe(type: "nfs", deviceConfig: server.deviceConfig(serverPath: nil))
            Issue.record("a probe without serverpath must fail with the export list")
        } catch let e as NFSSRError {
            #expect(e == .serverPathMissing(server: "127.0.0.1", exports: ["/export"]))
        }
        #expect(try manager.probe(type: "nfs", deviceConfig: server.deviceConfig()) == [])
    }

    /// Two hosts (different host identities, different local lock directories) share one SR:
    /// the lease on the server lets only one write its metadata at a time.
    @Test func twoHostsNeverWriteMetadataAtOnce() throws {
        let dir = TempDir(prefix: "nfs"), locksA = TempDir(prefix: "nfslock"), locksB = TempDir(prefix: "nfslock")
        let server = try GaneshaServer.start(in: dir.path)
        defer { server.stop() }
        let config = server.deviceConfig()
        let uuid = UUIDText.random()
        let hostA = try NFSSRDriver(hostID: "host-a").create(uuid: uuid, deviceConfig: config, context: SRContext(lockDirectory: locksA.path))
        let hostB = try NFSSRDriver(hostID: "host-b").open(uuid: uuid, deviceConfig: config, context: SRContext(lockDirectory: locksB.path))
        let meta = SRMetadata(sr: SRRecord(uuid: uuid, nameLabel: "x", type: "nfs"))

        let lockA = hostA.srLock()
        #expect(try lockA.acquire(timeout: 1))
        try hostA.saveMetadata(meta)
        let lease = try String(contentsOfFile: server.exportDirectory + "/\(uuid)/.sm/lease", encoding: .utf8)
        #expect(lease.hasPrefix("host=host-a\n"))

        let lockB = hostB.srLock()
        #expect(try lockB.acquire(timeout: 0.3) == false, "host B must wait while host A holds the lease")
        #expect(throws: SREngineError.self) { try hostB.saveMetadata(meta) }

        lockA.release()
        #expect(try lockB.acquire(timeout: 2))
        try hostB.saveMetadata(meta)
        #expect(try hostA.loadMetadata() == meta)
        lockB.release()

        // A dead holder's expired lease is broken.
        let stale = "host=host-c\nexpires=\(Date().timeIntervalSince1970 - 1)\n"
        try stale.write(toFile: server.exportDirectory + "/\(uuid)/.sm/lease", atomically: false, encoding: .utf8)
        #expect(try lockA.acquire(timeout: 2))
        lockA.release()
    }
}
}
