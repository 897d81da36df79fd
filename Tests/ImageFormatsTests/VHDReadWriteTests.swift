import TestSupport
import Foundation
import StorageIO
import Testing

@testable import ImageFormats

@Suite struct VHDReadWriteTests {
    @Test func dynamicRandomWritesReadBackAfterReopen() throws {
        let dir = TempDir(), loop = try makeLoop()
        let path = dir.file("d.vhd")
        let size: UInt64 = 64 << 20
        var model = ReferenceDisk(size: size)
        var rng = SeededGenerator(seed: 7)
        do {
            let store = try openStore(path, on: loop, create: true)
            try VHDCreate.dynamic(on: store, size: size)
            let image = try VHDImage.open(store)
            for i in 0..<200 {
                let sectors = Int.random(in: 1...64, using: &rng)
                let off = UInt64.random(in: 0...(size / 512 - UInt64(sectors)), using: &rng) * 512
                let data = pattern(count: sectors * 512, seed: UInt64(i), at: off)
                try image.writeBytes(data, at: off)
                model.write(data, at: off)
                if i % 50 == 49 { try image.flush() }
            }
            for _ in 0..<100 {
                let off = UInt64.random(in: 0..<(size / 512 - 128), using: &rng) * 512
                #expect(try image.readBytes(at: off, count: 65536) == model.read(at: off, count: 65536))
            }
            try image.close()
        }
        let image = try VHDImage.open(try openStore(path, on: loop), readOnly: true)
        let report = image.check()
        #expect(report.isPerfect, "\(report)")
        for chunk in stride(from: UInt64(0), to: size, by: 4 << 20) {
            #expect(try image.readBytes(at: chunk, count: 4 << 20) == model.read(at: chunk, count: 4 << 20))
        }
        try image.close()
    }
}

/// Many small blocks overflow the bitmap cache: dirty bitmaps are flushed in order and
/// clean ones dropped, and everything still reads back and checks perfect.
@Suite struct BitmapCacheTests {
    @Test func moreBlocksThanTheCacheHolds() throws {
        let dir = TempDir(), loop = try makeLoop()
        let path = dir.file("small-blocks.vhd")
        let size: UInt64 = 4 << 20  // 1024 blocks of 4 KiB, 64 bitmaps cached
        let store = try openStore(path, on: loop, create: true)
        try VHDCreate.dynamic(on: store, size: size, uuid: .random(), blockBytes: 4096)
        var model = ReferenceDisk(size: size)
        let image = try VHDImage.open(store)
        image.bitmapCacheLimit = 64
        var rng = SeededGenerator(seed: 77)
        for i in 0..<Int(size / 4096) {
            let sector = UInt64.random(in: 0..<8, using: &rng)
            let data = pattern(count: 512, seed: UInt64(i), at: UInt64(i) * 4096 + sector * 512)
            try image.writeBytes(data, at: UInt64(i) * 4096 + sector * 512)
            model.write(data, at: UInt64(i) * 4096 + sector * 512)
        }
        #expect(image.bitmaps.count <= 64)
        try image.close()
        let again = try VHDImage.open(try openStore(path, on: loop), readOnly: true)
        again.bitmapCacheLimit = 64
        #expect(again.check().isPerfect, "\(again.check())")
        #expect(try again.readBytes(at: 0, count: Int(size)) == model.read(at: 0, count: Int(size)))
        try again.close()
    }
}
