import Foundation
import TestSupport
import ImageFormats
import StorageIO
import Testing

@testable import SREngine

/// An SR in a fresh directory.
struct TestSR {
    let dir: TempDir
    let sr: AttachedSR
    var deviceConfig: [String: String] { ["location": dir.path] }

    init(options: EngineOptions = EngineOptions()) throws {
        dir = TempDir()
        sr = try SRManager(options: options).create(type: "file", deviceConfig: ["location": dir.path], nameLabel: "gc")
    }

    /// A copy of `other`'s SR in a new directory (same uuids), attached: building a
    /// scenario once and copying it is much cheaper than building it again.
    init(copying other: TestSR) throws {
        dir = TempDir()
        let target = "\(dir.path)/\(other.sr.uuid)"
        try FileManager.default.copyItem(atPath: other.srDirectory, toPath: target)
        try? FileManager.default.removeItem(atPath: target + "/.sm/lock")
        sr = try SRManager().attach(uuid: other.sr.uuid, type: "file", deviceConfig: ["location": dir.path])
    }

    /// The SR as a new process would attach it (recovery runs), with other options.
    func reattach(_ options: EngineOptions = EngineOptions()) throws -> AttachedSR {
        try SRManager(options: options).attach(uuid: sr.uuid, type: "file", deviceConfig: deviceConfig)
    }

    var srDirectory: String { "\(dir.path)/\(sr.uuid)" }
}


/// The content every visible VDI must show: the reference model of the random tests.
struct ContentModel {
    var disks: [String: [UInt8]] = [:]

    func expectMatches(_ sr: AttachedSR, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let visible = Set(try sr.vdis().filter { !$0.hidden }.map(\.uuid))
        #expect(visible == Set(disks.keys), "\(context): visible VDIs differ from the model", sourceLocation: sourceLocation)
        for (uuid, expected) in disks where visible.contains(uuid) {
            let got = try readAll(sr, uuid, count: expected.count)
            if got != expected {
                let first = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1
                Issue.record("\(context): VDI \(uuid) differs from the model at byte \(first)", sourceLocation: sourceLocation)
            }
        }
    }
}

func readAll(_ sr: AttachedSR, _ vdi: String, count: Int) throws -> [UInt8] {
    let h = try sr.openData(vdi, writable: false)
    defer { try? h.close() }
    var out = [UInt8](repeating: 0, count: count)
    try out.withUnsafeMutableBytes { try h.image.read(into: $0, at: VirtualOffset(0)) }
    return out
}

func write(_ sr: AttachedSR, _ vdi: String, _ bytes: [UInt8], at offset: UInt64) throws {
    let h = try sr.openData(vdi, writable: true)
    try bytes.withUnsafeBytes { try h.image.write($0, at: VirtualOffset(offset)) }
    try h.close()
}

/// The SR is consistent, and nothing is leaked: every file is a recorded image, every
/// image checks without even a repairable finding (no unreferenced tail left by a crash).
func expectConsistent(_ sr: AttachedSR, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let report = try sr.verify()
    #expect(report.isConsistent, "\(context): \(report)", sourceLocation: sourceLocation)
    let names = try sr.repository.volumeNames()
    let records = Set(try sr.vdis().map(\.uuid))
    #expect(Set(names) == Set(records.map { $0 + ".vhd" }), "\(context): files \(names) vs records \(records.sorted())",
            sourceLocation: sourceLocation)
    let loop = try EventLoop()
    for name in names {
        let store = try LocalFile.open(sr.repository.path(of: name), on: loop, options: .init(readOnly: true))
        defer { store.close() }
        let check = VHDImage.check(store)
        #expect(check.isPerfect, "\(context): \(name): \(check)", sourceLocation: sourceLocation)
    }
}

/// Nothing is left for the collector, checked from the tree itself (not through the plan):
/// no hidden VDI without a visible descendant, and a hidden VDI with one child only when
/// that child is visible and has children of its own (neither mergeable way round).
func expectMinimal(_ sr: AttachedSR, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let records = try sr.vdis()
    let byUUID = Dictionary(uniqueKeysWithValues: records.map { ($0.uuid, $0) })
    func children(_ u: String) -> [VDIRecord] { records.filter { $0.parent == u } }
    func visibleBelow(_ u: String) -> Bool { children(u).contains { !$0.hidden || visibleBelow($0.uuid) } }
    for r in records where r.hidden {
        #expect(visibleBelow(r.uuid), "\(context): hidden \(r.uuid) is garbage", sourceLocation: sourceLocation)
        let kids = children(r.uuid)
        if kids.count == 1 {
            let only = kids[0]
            #expect(!only.hidden && !children(only.uuid).isEmpty || only.virtualSize != r.virtualSize,
                    "\(context): hidden \(r.uuid) has one mergeable child \(only.uuid)", sourceLocation: sourceLocation)
        }
    }
    _ = byUUID
}
