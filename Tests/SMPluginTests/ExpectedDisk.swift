import Foundation
import Testing
import TestSupport

/// What a VDI should hold, kept as bytes in memory, written into the VDI through its NBD
/// URI and checked against it with qemu's own tools (an outside client, as a guest's
/// would be). A value: copy it to remember what a snapshot froze.
struct ExpectedDisk {
    private(set) var bytes: [UInt8]
    /// Where the raw files handed to qemu-img and qemu-io are written.
    let scratch: String

    init(size: Int, scratch: String) {
        bytes = [UInt8](repeating: 0, count: size)
        self.scratch = scratch
    }

    /// The same disk grown (new bytes read as zeros), as after a resize.
    func resized(to size: Int) -> ExpectedDisk {
        var grown = ExpectedDisk(size: size, scratch: scratch)
        grown.bytes.replaceSubrange(0..<bytes.count, with: bytes)
        return grown
    }

    static var toolsPresent: Bool { toolPath("qemu-img") != nil && toolPath("qemu-io") != nil }

    /// Seeded pseudo-random bytes: misplaced sectors show, unlike a constant fill.
    static func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: g.next() >> 24) }
    }

    /// Puts `data` at `offset`, then writes the whole expected disk into `uri` with
    /// `qemu-img convert -n` (the target exists: it is the attached VDI).
    mutating func convert(_ data: [UInt8], at offset: Int, into uri: String,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        bytes.replaceSubrange(offset..<offset + data.count, with: data)
        let file = try save("convert")
        let r = try runBoundedTool("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", file, uri])
        #expect(r.status == 0, "qemu-img convert into \(uri): \(r.output)", sourceLocation: sourceLocation)
    }

    /// Writes `data` at `offset` of `uri` with `qemu-io write -s` (a guest's partial write).
    mutating func write(_ data: [UInt8], at offset: Int, into uri: String,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        bytes.replaceSubrange(offset..<offset + data.count, with: data)
        let file = scratch + "/write.bin"
        try Data(data).write(to: URL(fileURLWithPath: file))
        let r = try runBoundedTool("qemu-io", ["-f", "raw", "-c", "write -s \(file) \(offset) \(data.count)", uri])
        #expect(r.status == 0 && !r.output.contains("failed"), "qemu-io write at \(offset): \(r.output)",
                sourceLocation: sourceLocation)
    }

    /// True when `target` (an NBD URI, or an image file in `format`) reads exactly as
    /// expected, by `qemu-img compare` (which also fails on a size difference holding data).
    func matches(_ target: String, format: String = "raw", _ step: String,
                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let file = try save("expected")
        let r = try runBoundedTool("qemu-img", ["compare", "-f", "raw", "-F", format, file, target])
        #expect(r.status == 0, "\(step): \(target) differs from the expected data: \(r.output)",
                sourceLocation: sourceLocation)
    }

    private func save(_ name: String) throws -> String {
        let file = scratch + "/\(name).raw"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }
}
