import TestSupport
import Foundation
import StorageIO
import Testing

@testable import ImageFormats

/// Chains we create read like a reference model, at any depth, and reopen identically.
@Suite struct ChainTests {
    /// Builds base + (depth-1) differencing layers, each written with random data through
    /// the chain, and returns the leaf path and the model.
    func buildChain(_ dir: TempDir, loop: EventLoop, depth: Int, size: UInt64, seed: UInt64,
                    writesPerLayer: Int, granuleSectors: Int = 1) throws -> (String, ReferenceDisk) {
        var model = ReferenceDisk(size: size)
        var rng = SeededGenerator(seed: seed)
        var path = dir.file("layer0.vhd")
        var parentFooter = try VHDCreate.dynamic(on: try openStore(path, on: loop, create: true), size: size)
        for level in 0..<depth {
            if level > 0 {
                let child = dir.file("layer\(level).vhd")
                parentFooter = try VHDCreate.differencing(on: try openStore(child, on: loop, create: true),
                                                          childPath: child, parentPath: path, parent: parentFooter)
                path = child
            }
            let chain = try ImageChain.open(path, on: loop)
            #expect(chain.depth == level + 1)
            for i in 0..<writesPerLayer {
                let g = UInt64(granuleSectors)
                let sectors = Int.random(in: 1...(96 / granuleSectors), using: &rng) * granuleSectors
                let off = UInt64.random(in: 0...((size / 512 - UInt64(sectors)) / g), using: &rng) * g * 512
                let data = pattern(count: sectors * 512, seed: seed &+ UInt64(level * 1000 + i), at: off)
                try chain.writeBytes(data, at: off)
                model.write(data, at: off)
                if i % 7 == 0 {  // reads through the chain see the write at once
                    #expect(try chain.readBytes(at: off, count: data.count) == data)
                }
            }
            try chain.close()
        }
        return (path, model)
    }

    @Test(arguments: [1, 3, 8])
    func chainReadsMatchModel(depth: Int) throws {
        let dir = TempDir(), loop = try makeLoop()
        let size: UInt64 = 24 << 20
        let (leaf, model) = try buildChain(dir, loop: loop, depth: depth, size: size, seed: UInt64(depth), writesPerLayer: 40)
        let chain = try ImageChain.open(leaf, on: loop, readOnly: true)
        defer { try? chain.close() }
        #expect(chain.depth == depth)
        let report = chain.check()
        #expect(report.isPerfect, "\(report)")
        #expect(try chain.readBytes(at: 0, count: Int(size)) == model.read(at: 0, count: Int(size)))
        // Block status agrees with the model: every written sector is data, holes are zero.
        let status = try chain.blockStatus(at: 0, length: size)
        var covered: UInt64 = 0
        for e in status {
            #expect(e.offset.bytes == covered)
            covered += e.length
            if e.state == .zero {
                for s in stride(from: e.offset.bytes, to: e.offset.bytes + e.length, by: 512) {
                    #expect(model.sectors[s / 512] == nil)
                }
            }
        }
        #expect(covered == size)
    }

    /// Writes through a deep chain land in the leaf and read back after reopening, and
    /// the resolved extents never name more layers than hold data.
    @Test func writesGoToLeafAndSurviveReopen() throws {
        let dir = TempDir(), loop = try makeLoop()
        let size: UInt64 = 16 << 20
        var (leaf, model) = try buildChain(dir, loop: loop, depth: 4, size: size, seed: 99, writesPerLayer: 20)
        do {
            let chain = try ImageChain.open(leaf, on: loop)
            let data = pattern(count: 3 << 20, seed: 4242, at: 1 << 20)
            try chain.writeBytes(data, at: 1 << 20)
            model.write(data, at: 1 << 20)
            try chain.close()
        }
        let chain = try ImageChain.open(leaf, on: loop, readOnly: true)
        defer { try? chain.close() }
        #expect(try chain.readBytes(at: 0, count: Int(size)) == model.read(at: 0, count: Int(size)))
        let extents = try chain.resolve(at: VirtualOffset(2 << 20), length: 2 << 20)
        #expect(extents == [ReadExtent(virtualOffset: VirtualOffset(2 << 20), length: 2 << 20,
                                       source: extents[0].source)])
        if case let .host(layer, _) = extents[0].source { #expect(layer == 0) } else { Issue.record("expected data") }
        // Parents were opened read-only and are untouched by the leaf's writes.
        #expect(chain.layers.dropFirst().allSatisfy { $0.isReadOnly })
    }

    /// A raw base under a differencing disk (null parent UUID, as blktap allows).
    @Test func rawParentIsReadThroughTheMap() throws {
        let dir = TempDir(), loop = try makeLoop()
        let size: UInt64 = 4 << 20
        let base = dir.file("base.raw"), child = dir.file("child.vhd")
        let rawStore = try openStore(base, on: loop, create: true)
        try rawStore.resize(to: size)
        let raw = RawImage(store: rawStore)
        let baseData = pattern(count: Int(size), seed: 1, at: 0)
        try raw.writeBytes(baseData, at: 0)
        try raw.close()
        let link = VHDCreate.ParentLink(uuid: .null, timestamp: 0, relativePath: "base.raw", size: size)
        try VHDCreate.differencing(on: try openStore(child, on: loop, create: true), link: link)
        let chain = try ImageChain.open(child, on: loop)
        defer { try? chain.close() }
        let top = pattern(count: 4096, seed: 2, at: 8192)
        try chain.writeBytes(top, at: 8192)
        var expected = baseData
        expected.replaceSubrange(8192..<(8192 + 4096), with: top)
        #expect(try chain.readBytes(at: 0, count: Int(size)) == expected)
        #expect(chain.mixedBlockCount == 1)
    }
}
