import TestSupport
import Foundation
import StorageIO
import Testing

@testable import ImageFormats

/// One damaged fixture per validation rule (Fixtures/vhd, made by make_fixtures.py): each
/// gives its typed error naming file, offset and field, never a crash, and is not modified.
@Suite struct BadInputTests {
    static let fixtures: String = {
        var dir = "\(#filePath)"
        for _ in 0..<3 { dir = String(dir[..<dir.lastIndex(of: "/")!]) }
        return dir + "/Fixtures/vhd"
    }()

    struct Rule: CustomTestStringConvertible, Sendable {
        var file: String
        var kind: VHDError.Kind
        var field: String
        var offset: UInt64
        /// The single-file check reports it too (parent rules need the chain).
        var checkSees = true
        var testDescription: String { file }
    }

    static let rules: [Rule] = [
        Rule(file: "truncated.vhd", kind: .truncated, field: "header", offset: 512),
        Rule(file: "bad-cookie.vhd", kind: .badCookie, field: "header.cookie", offset: 512),
        Rule(file: "bad-footer-checksum.vhd", kind: .badChecksum, field: "footer.checksum", offset: 64),
        Rule(file: "bad-header-checksum.vhd", kind: .badChecksum, field: "header.checksum", offset: 548),
        Rule(file: "bat-past-eof.vhd", kind: .batEntryPastEnd, field: "bat[0]", offset: 1536),
        Rule(file: "bat-in-metadata.vhd", kind: .batEntryInMetadata, field: "bat[0]", offset: 1536),
        Rule(file: "bat-overlap.vhd", kind: .blocksOverlap, field: "bat[3]", offset: 1548),
        Rule(file: "block-size-npot.vhd", kind: .badField, field: "header.blockSize", offset: 544),
        Rule(file: "block-size-4m.vhd", kind: .unsupported, field: "header.blockSize", offset: 544),
        Rule(file: "size-over-limit.vhd", kind: .sizeOutOfRange, field: "footer.currentSize", offset: 48),
        Rule(file: "parent-loop.vhd", kind: .parentLoop, field: "header.parentUUID", offset: 552, checkSees: false),
        Rule(file: "parent-missing.vhd", kind: .parentMissing, field: "header.parentUnicodeName", offset: 576, checkSees: false),
        Rule(file: "parent-mismatch.vhd", kind: .parentMismatch, field: "header.parentUUID", offset: 552, checkSees: false),
        Rule(file: "locator-corrupt.vhd", kind: .badLocator, field: "locator[0].dataOffset", offset: 1088),
    ]

    func bytes(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

    @Test(arguments: rules)
    func damagedFixtureGivesTypedError(rule: Rule) throws {
        let path = Self.fixtures + "/" + rule.file
        let before = bytes(path)
        #expect(!before.isEmpty, "missing fixture \(path): run make_fixtures.py")
        let loop = try makeLoop()
        do {
            let chain = try ImageChain.open(path, on: loop, readOnly: true)
            try chain.close()
            Issue.record("\(rule.file) opened")
        } catch let e as VHDError {
            #expect(e.kind == rule.kind, "\(e)")
            #expect(e.field == rule.field, "\(e)")
            #expect(e.offset == rule.offset, "\(e)")
            #expect(e.file.hasSuffix(rule.file), "\(e)")
        }
        if rule.checkSees {
            let store = try openStore(path, on: loop, readOnly: true)
            let report = VHDCheck.run(store)
            store.close()
            #expect(report.problems.contains { $0.severity == .corruption && $0.field == rule.field }, "\(report)")
        }
        #expect(bytes(path) == before, "\(rule.file) was modified")
    }

    @Test func goodFixturesOpenAndRead() throws {
        let loop = try makeLoop()
        let q = try ImageChain.open(Self.fixtures + "/good-dynamic.vhd", on: loop, readOnly: true)
        #expect(q.virtualSize == 4 << 20)
        #expect(q.check().isPerfect, "\(q.check())")
        #expect(try q.readBytes(at: 0, count: 4 << 20).allSatisfy { $0 == 0 })
        try q.close()

        let chain = try ImageChain.open(Self.fixtures + "/good-diff.vhd", on: loop, readOnly: true)
        defer { try? chain.close() }
        #expect(chain.depth == 2)
        #expect(chain.check().isPerfect, "\(chain.check())")
        var expected = [UInt8](repeating: 0, count: 2 << 20)
        for (block, fill) in [(0, 0xB0), (3, 0xD3), (5, 0xD5)] {
            expected.replaceSubrange((block * 4096)..<((block + 1) * 4096), with: repeatElement(UInt8(fill), count: 4096))
        }
        #expect(try chain.readBytes(at: 0, count: 2 << 20) == expected)
        let status = try chain.blockStatus(at: 0, length: 8 * 4096)
        #expect(status.map(\.state) == [.data(layer: 1), .zero, .data(layer: 0), .zero, .data(layer: 0), .zero])
    }

    /// Random byte damage anywhere in the metadata never crashes: it opens, or throws a typed
    /// error, and check always returns a report.
    @Test func randomDamageNeverCrashes() throws {
        let loop = try makeLoop()
        let dir = TempDir()
        let original = bytes(Self.fixtures + "/good-diff.vhd")
        var rng = SeededGenerator(seed: 2024)
        for round in 0..<300 {
            var damaged = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<min(damaged.count, 6 * 512), using: &rng)
                damaged[at] = UInt8.random(in: 0...255, using: &rng)
            }
            let path = dir.file("fuzz\(round).vhd")
            FileManager.default.createFile(atPath: path, contents: damaged)
            let store = try openStore(path, on: loop, readOnly: true)
            _ = VHDCheck.run(store)
            if let image = try? VHDImage.open(store, readOnly: true) {
                _ = try? image.readBytes(at: 0, count: Int(min(image.virtualSize, 1 << 20)))
            }
            store.close()
        }
    }
}
