import ImageFormats
import SREngine
import StorageIO

/// vdi-import and vdi-export: raw and VHD streams moved sparse-aware. Work goes in 2 MiB
/// chunks (one VHD block); a chunk with no data on the source side is not read, and a
/// chunk that reads as zeros is not written, so holes stay holes on both sides.
enum TransferCommands {
    static let all: [CommandSpec] = [
        CommandSpec(name: "vdi-import", summary: "write a raw or VHD file into an existing VDI",
                    keys: ["uuid", "sr-uuid", "filename", "format"], run: importVDI),
        CommandSpec(name: "vdi-export", summary: "write a VDI to a raw or VHD file",
                    keys: ["uuid", "sr-uuid", "filename", "format"], run: exportVDI),
    ]

    enum Format: String { case raw, vhd }

    static func format(_ c: CommandContext) throws -> Format {
        let text = c.args.params["format"] ?? "raw"
        guard let f = Format(rawValue: text.lowercased()) else { throw CLIError.usage("format=\(text): expected raw or vhd") }
        return f
    }

    /// A source of data: its size, where its data is, and reads.
    struct Source {
        var size: UInt64
        var data: [Range<UInt64>]
        var read: (UnsafeMutableRawBufferPointer, UInt64) throws -> Void
        var close: () throws -> Void
    }

    static func openSource(_ path: String, format: Format) throws -> Source {
        switch format {
        case .raw:
            let file = try SparseFile(reading: path)
            return Source(size: file.size, data: file.dataRanges(), read: { try file.read(into: $0, at: $1) }, close: {})
        case .vhd:
            let loop = try EventLoop()
            let chain = try ImageChain.open(path, on: loop, readOnly: true)
            let data = try chain.blockStatus(at: VirtualOffset(0), length: chain.virtualSize).compactMap { e -> Range<UInt64>? in
                if case .data = e.state { return e.offset.bytes..<(e.offset.bytes + e.length) }
                return nil
            }
            return Source(size: chain.virtualSize, data: data, read: { try chain.read(into: $0, at: VirtualOffset($1)) },
                          close: { _ = loop; try chain.close() })
        }
    }

    static func overlaps(_ ranges: [Range<UInt64>], _ r: Range<UInt64>) -> Bool {
        ranges.contains { $0.overlaps(r) }
    }

    static func dataRanges(of image: any DiskImage) throws -> [Range<UInt64>] {
        try image.blockStatus(at: VirtualOffset(0), length: image.virtualSize).compactMap { e in
            if case .data = e.state { return e.offset.bytes..<(e.offset.bytes + e.length) }
            return nil
        }
    }

    static func importVDI(_ c: CommandContext) throws {
        let (sr, record) = try c.srHolding(vdi: try c.args.required("uuid"))
        let filename = try c.args.required("filename")
        let source = try openSource(filename, format: try format(c))
        defer { try? source.close() }
        guard source.size <= record.virtualSize else {
            throw SREngineError.vdiSize(requested: source.size,
                                        detail: "the source is larger than the VDI (\(record.virtualSize) bytes)")
        }
        let dataBytes = source.data.reduce(0) { $0 + UInt64($1.count) }
        try sr.ensureSpace(dataBytes + dataBytes / 256, for: "VDI import")
        let handle = try sr.openData(record.uuid, writable: true)
        var closed = false
        defer { if !closed { try? handle.close() } }
        let existing = try dataRanges(of: handle.image)
        let chunk = UInt64(SRLimits.copyChunkBytes)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(chunk), alignment: 4096)
        defer { buffer.deallocate() }
        let bar = ProgressBar(out: c.out, total: source.size, label: "importing", enabled: !c.args.json)
        var written: UInt64 = 0, pos: UInt64 = 0
        let end = (source.size + 511) / 512 * 512
        while pos < end {
            let n = min(chunk, end - pos)
            let range = pos..<(pos + n)
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(n)])
            let sourceHas = overlaps(source.data, range), targetHas = overlaps(existing, range)
            if sourceHas {
                try source.read(slice, pos)
            } else {
                slice.initializeMemory(as: UInt8.self, repeating: 0)
            }
            if (sourceHas || targetHas) && !(isAllZero(UnsafeRawBufferPointer(slice)) && !targetHas) {
                try handle.image.write(UnsafeRawBufferPointer(slice), at: VirtualOffset(pos))
                written += n
            }
            pos += n
            bar.update(pos)
        }
        bar.finish()
        try handle.close()
        closed = true
        if c.args.json { c.out.json(["bytes-written": written, "bytes-skipped": end - written]) }
    }

    static func exportVDI(_ c: CommandContext) throws {
        let (sr, record) = try c.srHolding(vdi: try c.args.required("uuid"))
        let filename = try c.args.required("filename")
        let fmt = try format(c)
        let handle = try sr.openData(record.uuid, writable: false)
        defer { try? handle.close() }
        let image = handle.image
        let data = try dataRanges(of: image)
        var sink: (UnsafeRawBufferPointer, UInt64) throws -> Void
        var finish: () throws -> Void
        switch fmt {
        case .raw:
            let file = try SparseFile(creating: filename, size: image.virtualSize)
            sink = { try file.write($0, at: $1) }
            finish = { try file.sync() }
        case .vhd:
            let loop = try EventLoop()
            let store = try LocalFile.open(filename, on: loop, options: .init(create: true))
            try VHDCreate.dynamic(on: store, size: image.virtualSize)
            let vhd = try VHDImage.open(store)
            sink = { try vhd.write($0, at: VirtualOffset($1)) }
            finish = { _ = loop; try vhd.close() }
        }
        let chunk = UInt64(SRLimits.copyChunkBytes)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(chunk), alignment: 4096)
        defer { buffer.deallocate() }
        let total = data.reduce(0) { $0 + UInt64($1.count) }
        let bar = ProgressBar(out: c.out, total: total, label: "exporting", enabled: !c.args.json)
        var done: UInt64 = 0, written: UInt64 = 0
        for r in data {
            var pos = r.lowerBound
            while pos < r.upperBound {
                let n = min(chunk, r.upperBound - pos)
                let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(n)])
                try image.read(into: slice, at: VirtualOffset(pos))
                if !isAllZero(UnsafeRawBufferPointer(slice)) {
                    try sink(UnsafeRawBufferPointer(slice), pos)
                    written += n
                }
                pos += n
                done += n
                bar.update(done)
            }
        }
        try finish()
        bar.finish()
        if c.args.json { c.out.json(["bytes-written": written, "virtual-size": image.virtualSize]) }
    }
}
