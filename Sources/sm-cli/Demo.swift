import ArgumentParser
import Foundation
import StorageIO

/// The main job on the embedded default: a local SR in a directory, exercised end to end.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a VDI in a local SR directory, write it, snapshot it, read it back, and say what happened.")

    @Option(help: "The local SR directory (created if missing).")
    var location = "demo-sr"

    @Option(help: "Virtual size of the demo VDI in MiB.")
    var sizeMiB: UInt64 = 64

    func run() throws {
        try FileManager.default.createDirectory(atPath: location, withIntermediateDirectories: true)
        let loop = try EventLoop()
        print("event loop: \(loop.driver)")
        let path = (location as NSString).appendingPathComponent("demo-vdi.raw")
        FileManager.default.createFile(atPath: path, contents: nil)
        let store = try LocalFile.open(path, on: loop)
        defer { store.close() }
        try store.resize(to: sizeMiB << 20)
        print("VDI \(path): \(sizeMiB) MiB, engine \(store.engine), O_DIRECT \(store.isDirect)")

        let pattern = DemoPattern(blockSize: 1 << 20)
        let blocks = Int(sizeMiB)
        for block in 0..<blocks { try store.write(pattern.block(block), at: UInt64(block) << 20) }
        try store.flush()
        print("wrote \(blocks) x 1 MiB and flushed")

        var mismatches = 0
        let back = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { back.deallocate() }
        for block in 0..<blocks {
            try store.read(into: back, at: UInt64(block) << 20)
            if !back.elementsEqual(pattern.block(block)) { mismatches += 1 }
        }
        print("read back \(blocks) x 1 MiB: \(mismatches == 0 ? "identical" : "\(mismatches) blocks differ")")
        if mismatches > 0 { throw ExitCode.failure }
    }
}

/// Distinct, recognisable content per 1 MiB block.
struct DemoPattern {
    let blockSize: Int
    private let buffer: UnsafeMutableRawBufferPointer

    init(blockSize: Int) {
        self.blockSize = blockSize
        buffer = .allocate(byteCount: blockSize, alignment: 4096)
    }

    func block(_ index: Int) -> UnsafeRawBufferPointer {
        let words = buffer.bindMemory(to: UInt64.self)
        for i in words.indices { words[i] = UInt64(index) << 32 | UInt64(i) }
        return UnsafeRawBufferPointer(buffer)
    }
}
