import TestSupport
import PropertyBased
import StorageIO
import Testing

@testable import ImageFormats

/// Property: for any chain depth and any writes per layer, every read through the chain
/// (fresh, and after reopening from disk) equals a flat reference model. Inputs are
/// generated and, on failure, shrunk to the smallest failing chain by PropertyBased.
@Suite struct ChainPropertyTests {
    /// One write: first sector, sector count, fill byte.
    typealias Write = (sector: Int, count: Int, fill: Int)

    static let size: UInt64 = 8 << 20
    static let sectors = Int(size / 512)

    static let write = zip(Gen.int(in: 0..<(sectors - 1)), Gen.int(in: 1...40), Gen.int(in: 1...255))
        .map { (sector: $0, count: $1, fill: $2) }
    /// 1 to 8 layers, each with up to 10 writes.
    static let layers = write.array(of: 0...10).array(of: 1...8)

    @Test func chainReadsEqualTheModel() async throws {
        await propertyCheck(count: 40, input: Self.layers) { layers in
            do {
                try Self.check(layers)
            } catch {
                Issue.record("chain of \(layers.count) layers failed: \(error)")
            }
        }
    }

    static func check(_ layers: [[Write]]) throws {
        let dir = TempDir(), loop = try makeLoop()
        var model = ReferenceDisk(size: size)
        var path = dir.file("p0.vhd")
        var parent = try VHDCreate.dynamic(on: try openStore(path, on: loop, create: true), size: size)
        for (level, writes) in layers.enumerated() {
            if level > 0 {
                let child = dir.file("p\(level).vhd")
                parent = try VHDCreate.differencing(on: try openStore(child, on: loop, create: true),
                                                    childPath: child, parentPath: path, parent: parent)
                path = child
            }
            let chain = try ImageChain.open(path, on: loop)
            for w in writes {
                let count = min(w.count, sectors - w.sector)
                let data = [UInt8](repeating: UInt8(w.fill), count: count * 512)
                try chain.writeBytes(data, at: UInt64(w.sector) * 512)
                model.write(data, at: UInt64(w.sector) * 512)
            }
            #expect(try chain.readBytes(at: 0, count: Int(size)) == model.read(at: 0, count: Int(size)))
            try chain.close()
        }
        let reopened = try ImageChain.open(path, on: loop, readOnly: true)
        defer { try? reopened.close() }
        #expect(reopened.depth == layers.count)
        #expect(try reopened.readBytes(at: 0, count: Int(size)) == model.read(at: 0, count: Int(size)))
        #expect(reopened.check().isPerfect)
    }
}
