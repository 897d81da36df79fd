import Foundation
import Glibc
import ImageFormats
import StorageIO
import TestSupport
import Testing
import XMLRPC

/// vdi_snapshot, vdi_clone and vdi_resize of an attached VDI: the plugin's engine pauses
/// sm-tapdisk around them (as SM pauses tapdisk), and the same daemon then serves the VDI's
/// new leaf. The snapshot holds what was written before it.
@Suite struct PauseTests {
    /// Reads `bytes` bytes at 0 of an image chain.
    func read(_ path: String, bytes: Int) throws -> [UInt8] {
        let loop = try EventLoop()
        let chain = try ImageChain.open(path, on: loop, readOnly: true)
        defer { try? chain.close() }
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { p.deallocate() }
        try chain.read(into: UnsafeMutableRawBufferPointer(start: p, count: bytes), at: 0)
        #expect(chain.check().isClean, "\(path): \(chain.check())")
        return Array(UnsafeRawBufferPointer(start: p, count: bytes))
    }

    func qemuIO(_ uri: String, _ command: String) throws {
        let r = try runTool("qemu-io", ["-f", "raw", "-c", command, uri])
        #expect(r.status == 0 && !r.output.contains("failed"), "\(command): \(r.output)")
    }

    @Test(.enabled(if: AttachTests.tapdisk != nil, "sm-tapdisk is not built next to sm-plugin"))
    func snapshotCloneAndResizePauseTheServedVDI() throws {
        let host = try PluginHost()
        host.environment["SM_TAPDISK"] = nil
        let loc = host.location
        let sr = try host.makeSR()
        let vdi = try host.makeVDI(sr)
        let r = try host.ok(XAPICall("vdi_attach", location: loc, sr: sr, vdi: vdi, args: ["true"]))
        let uri = try #require(r["params"]?.stringValue)
        let pidPath = "\(host.runDirectory)/\(sr)/\(vdi).pid"
        let pid = try String(contentsOfFile: pidPath, encoding: .utf8)

        try qemuIO(uri, "write -P 0x11 0 64k")
        let snapshot = try #require(try host.ok(XAPICall("vdi_snapshot", location: loc, sr: sr, vdi: vdi))["uuid"]?.stringValue)
        try qemuIO(uri, "write -P 0x22 0 64k")
        let clone = try #require(try host.ok(XAPICall("vdi_clone", location: loc, sr: sr, vdi: vdi))["uuid"]?.stringValue)
        try qemuIO(uri, "write -P 0x33 0 64k")
        try host.ok(XAPICall("vdi_resize", location: loc, sr: sr, vdi: vdi, args: ["\(16 << 20)"]))
        try qemuIO(uri, "read -P 0x33 0 64k")

        // The same daemon served throughout, now on the VDI's newest leaf.
        #expect(try String(contentsOfFile: pidPath, encoding: .utf8) == pid)
        let log = try String(contentsOfFile: "\(host.runDirectory)/\(sr)/\(vdi).log", encoding: .utf8)
        #expect(log.components(separatedBy: "unpaused").count - 1 == 3, "\(log)")
        try host.ok(XAPICall("vdi_detach", location: loc, sr: sr, vdi: vdi))

        let image = { (uuid: String) in "\(loc)/\(sr)/\(uuid).vhd" }
        #expect(try read(image(snapshot), bytes: 64 << 10).allSatisfy { $0 == 0x11 })
        #expect(try read(image(clone), bytes: 64 << 10).allSatisfy { $0 == 0x22 })
        #expect(try read(image(vdi), bytes: 64 << 10).allSatisfy { $0 == 0x33 })
        // Deleting a served VDI is still refused (PluginTests), a detached one is fine.
        try host.ok(XAPICall("vdi_delete", location: loc, sr: sr, vdi: snapshot))
    }
}
