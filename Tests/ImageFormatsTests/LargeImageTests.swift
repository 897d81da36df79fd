import TestSupport
import Foundation
import StorageIO
import StorageSimulation
import Testing

@testable import ImageFormats

/// A 2040 GiB image is metadata only: one write creates it, and it works at both ends.
@Suite struct LargeImageTests {
    static let size: UInt64 = VHDLimits.sizeBytesMax

    @Test func maximumDynamicImageIsCreatedInOneWrite() throws {
        let loop = try EventLoop()
        let disk = SimulatedDisk(.init(name: "big.vhd", size: 0, alignment: 512), seed: 1, loop: loop)
        try VHDCreate.dynamic(on: disk, size: Self.size)
        let writes = disk.trace.filter { $0.contains(" submit write") }
        #expect(writes.count == 1, "\(writes)")
        #expect(disk.size < 5 << 20)
        let image = try VHDImage.open(disk)
        #expect(image.virtualSize == Self.size)
        #expect(image.bat.count == 1_044_480)
    }

    @Test func maximumImageOnAFileWorksAtBothEnds() throws {
        let dir = TempDir(), loop = try makeLoop()
        let path = dir.file("big.vhd")
        let clock = ContinuousClock(), start = clock.now
        try VHDCreate.dynamic(on: try openStore(path, on: loop, create: true), size: Self.size)
        print("created a \(Self.size >> 30) GiB dynamic VHD in \(clock.now - start)")
        let last = Self.size - 4096
        do {
            let image = try VHDImage.open(try openStore(path, on: loop))
            try image.writeBytes([UInt8](repeating: 0x5A, count: 4096), at: last)
            try image.writeBytes([UInt8](repeating: 0xA5, count: 4096), at: 1 << 40)
            try image.close()
        }
        let chain = try ImageChain.open(path, on: loop, readOnly: true)
        #expect(try chain.readBytes(at: last, count: 4096) == [UInt8](repeating: 0x5A, count: 4096))
        #expect(try chain.readBytes(at: 1 << 40, count: 4096) == [UInt8](repeating: 0xA5, count: 4096))
        #expect(try chain.readBytes(at: last - 4096, count: 4096).allSatisfy { $0 == 0 })
        #expect(chain.check().isPerfect, "\(chain.check())")
        try chain.close()
        guard toolPath("qemu-img") != nil else { print("skipped qemu-img part: not installed"); return }
        let info = try runTool("qemu-img", ["info", "-f", "vpc", "--output=json", path])
        #expect(info.output.contains("\"virtual-size\": \(Self.size)"), "\(info.output)")
        let io = try runTool("qemu-io", ["-r", "-f", "vpc", "-c", "read -P 0x5a \(last) 4096", "-c", "read -P 0xa5 \(1 << 40) 4096", path])
        #expect(io.status == 0 && !io.output.contains("Pattern verification failed"), "\(io.output)")
        if toolPath("vhdiinfo") != nil {
            let v = try runTool("vhdiinfo", [path])
            #expect(v.output.contains("(\(Self.size) bytes)"), "\(v.output)")
        }
    }

    @Test func oversizeIsRefused() throws {
        let loop = try EventLoop()
        let disk = SimulatedDisk(.init(size: 0, alignment: 512), seed: 1, loop: loop)
        #expect { try VHDCreate.dynamic(on: disk, size: Self.size + 1) } throws: {
            ($0 as? VHDError)?.kind == .sizeOutOfRange
        }
    }
}

/// Check, repair and the hidden flag on images we write.
@Suite struct CheckRepairTests {
    @Test func missingTrailingFooterIsRepairedFromTheBackup() throws {
        let dir = TempDir(), loop = try makeLoop()
        let path = dir.file("r.vhd")
        let data = pattern(count: 8192, seed: 3, at: 0)
        do {
            let store = try openStore(path, on: loop, create: true)
            try VHDCreate.dynamic(on: store, size: 8 << 20)
            let image = try VHDImage.open(store)
            try image.writeBytes(data, at: 4 << 20)
            try image.close()
        }
        // A crash while blktap held the file: the trailing footer is garbage (0xC7, as
        // vhd_kill_footer leaves it) and the file has grown past the data.
        let store = try openStore(path, on: loop)
        let size = store.size
        try store.resize(to: size + 4096)
        try store.writeBytes([UInt8](repeating: 0xC7, count: 512), at: size + 4096 - 512)
        let report = VHDCheck.run(store)
        #expect(report.isClean && !report.isPerfect, "\(report)")
        #expect(report.problems.contains { $0.field == "footer" && $0.severity == .repairable })
        let image = try VHDImage.open(store)
        #expect(try image.readBytes(at: 4 << 20, count: 8192) == data)
        let fixed = try image.repair()
        #expect(!fixed.isEmpty)
        #expect(store.size == size, "the file is cut back to the end of the data")
        #expect(VHDCheck.run(store).isPerfect)
        try image.close()
        if toolPath("qemu-img") != nil {
            let info = try runTool("qemu-img", ["info", "-f", "vpc", path])
            #expect(info.status == 0)
        }
    }

    @Test func corruptBatmapIsReportedAndRebuilt() throws {
        let dir = TempDir(), loop = try makeLoop()
        let path = dir.file("b.vhd")
        let store = try openStore(path, on: loop, create: true)
        try VHDCreate.dynamic(on: store, size: 8 << 20)
        let image = try VHDImage.open(store)
        try image.writeBytes([UInt8](repeating: 1, count: 2 << 20), at: 2 << 20)  // block 1 full
        try image.writeBytes([UInt8](repeating: 2, count: 512), at: 0)  // block 0 partial
        try image.flush()
        let map = try #require(image.batmap)
        #expect(map.bits.test(1) && !map.bits.test(0))
        // Mark block 0 full on disk, checksum resealed: a wrongly set bit is corruption.
        var bits = map.bits
        bits.set(0)
        var forged = map
        forged.bits = bits
        try store.writeBytes(bits.bytes, at: map.mapOffset)
        try store.writeBytes(forged.encodeHeader(currentSize: 8 << 20), at: map.headerOffset)
        let report = VHDCheck.run(store)
        #expect(report.problems.contains { $0.severity == .corruption && $0.field == "bitmap[0]" }, "\(report)")
        let reopened = try VHDImage.open(store)
        try reopened.repair()
        #expect(VHDCheck.run(store).isPerfect, "\(VHDCheck.run(store))")
        #expect(try reopened.readBytes(at: 0, count: 1024) == [UInt8](repeating: 2, count: 512) + [UInt8](repeating: 0, count: 512))
        try reopened.close()
    }

    @Test func hiddenFlagIsWrittenToBothFooters() throws {
        let dir = TempDir(), loop = try makeLoop()
        let path = dir.file("h.vhd")
        let store = try openStore(path, on: loop, create: true)
        try VHDCreate.dynamic(on: store, size: 4 << 20)
        let image = try VHDImage.open(store)
        try image.setHidden(true)
        try image.flush()
        #expect(try store.readBytes(count: 512, at: 0)[85] == 1)
        #expect(try store.readBytes(count: 512, at: store.size - 512)[85] == 1)
        #expect(VHDCheck.run(store).isPerfect)
        let again = try VHDImage.open(store, readOnly: true)
        #expect(again.isHidden)

        let fixedStore = try openStore(dir.file("f.vhd"), on: loop, create: true)
        try VHDCreate.fixed(on: fixedStore, size: 2 << 20)
        let fixed = try VHDImage.open(fixedStore)
        try fixed.setHidden(true)
        try fixed.close()
        let fixedAgain = try VHDImage.open(try openStore(dir.file("f.vhd"), on: loop), readOnly: true)
        #expect(fixedAgain.isHidden && fixedAgain.check().isPerfect)
    }
}

/// Depth does not change what a read costs: extents come from the chain map.
@Suite struct ChainDepthTests {
    @Test func depthThirtyResolvesLikeDepthOneAndThirtyOneIsRefused() throws {
        let dir = TempDir(), loop = try makeLoop()
        let size: UInt64 = 64 << 20
        var paths = [dir.file("l0.vhd")]
        var footer = try VHDCreate.dynamic(on: try openStore(paths[0], on: loop, create: true), size: size)
        do {
            let base = try VHDImage.open(try openStore(paths[0], on: loop))
            try base.writeBytes([UInt8](repeating: 0xBB, count: 2 << 20), at: 0)
            try base.close()
        }
        for level in 1...VHDLimits.chainDepthMax {
            let child = dir.file("l\(level).vhd")
            footer = try VHDCreate.differencing(on: try openStore(child, on: loop, create: true), childPath: child,
                                                parentPath: paths.last!, parent: footer)
            paths.append(child)
            if level < VHDLimits.chainDepthMax {  // each layer owns one sector of block 1
                let chain = try ImageChain.open(child, on: loop)
                try chain.writeBytes([UInt8](repeating: UInt8(level), count: 512), at: (2 << 20) + UInt64(level) * 512)
                try chain.close()
            }
        }
        let deep = try ImageChain.open(paths[VHDLimits.chainDepthMax - 1], on: loop, readOnly: true)
        defer { try? deep.close() }
        #expect(deep.depth == VHDLimits.chainDepthMax)
        // Block 0 lives in the base, 29 layers down: one extent, straight to layer 29.
        let extents = try deep.resolve(at: 0, length: 2 << 20)
        #expect(extents.count == 1)
        #expect(extents.first?.source == .host(layer: VHDLimits.chainDepthMax - 1, offset: extents.first.map {
            if case let .host(_, o) = $0.source { o } else { HostOffset(0) }
        }!))
        #expect(try deep.readBytes(at: 0, count: 4096).allSatisfy { $0 == 0xBB })
        // Block 1 interleaves all layers sector by sector.
        let sectors = try deep.readBytes(at: 2 << 20, count: 30 * 512)
        for level in 1..<VHDLimits.chainDepthMax { #expect(sectors[level * 512] == UInt8(level)) }
        #expect(deep.mixedBlockCount == 1)
        #expect(deep.check().isPerfect, "\(deep.check())")

        #expect { try ImageChain.open(paths.last!, on: loop, readOnly: true) } throws: {
            ($0 as? VHDError)?.kind == .chainTooDeep
        }
    }
}
