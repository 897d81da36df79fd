import Foundation
import TestSupport
import ImageFormats
import StorageIO
import Testing

@testable import SREngine

/// An SR in a fresh directory, with its manager and device-config.
struct TestSR {
    let dir = TempDir()
    let manager: SRManager
    let sr: AttachedSR
    var deviceConfig: [String: String] { ["location": dir.path] }

    init(options: EngineOptions = EngineOptions()) throws {
        manager = SRManager(options: options)
        sr = try manager.create(type: "file", deviceConfig: ["location": dir.path], nameLabel: "test")
    }

    /// A second attachment of the same SR (what another process would see), with other options.
    func reattach(_ options: EngineOptions = EngineOptions()) throws -> AttachedSR {
        try SRManager(options: options).attach(uuid: sr.uuid, type: "file", deviceConfig: deviceConfig)
    }

    func imagePath(_ vdi: String) -> String { "\(dir.path)/\(sr.uuid)/\(vdi).vhd" }
    func exists(_ vdi: String) -> Bool { FileManager.default.fileExists(atPath: imagePath(vdi)) }
}

/// Deterministic bytes naming their seed and offset.
func pattern(_ count: Int, seed: UInt8, at offset: UInt64) -> [UInt8] {
    (0..<count).map { i in UInt8(truncatingIfNeeded: (offset + UInt64(i)) / 512 &* 31) ^ seed }
}

func writeData(_ sr: AttachedSR, _ vdi: String, _ bytes: [UInt8], at offset: UInt64) throws {
    let h = try sr.openData(vdi, writable: true)
    try bytes.withUnsafeBytes { try h.image.write($0, at: VirtualOffset(offset)) }
    try h.close()
}

func readData(_ sr: AttachedSR, _ vdi: String, count: Int, at offset: UInt64) throws -> [UInt8] {
    let h = try sr.openData(vdi, writable: false)
    defer { try? h.close() }
    var out = [UInt8](repeating: 0, count: count)
    try out.withUnsafeMutableBytes { try h.image.read(into: $0, at: VirtualOffset(offset)) }
    return out
}

func expectConsistent(_ sr: AttachedSR, _ context: String = "", sourceLocation: SourceLocation = #_sourceLocation) throws {
    let report = try sr.verify()
    #expect(report.isConsistent, "\(context): \(report)", sourceLocation: sourceLocation)
}
