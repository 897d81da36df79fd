import Glibc
import StorageIO

/// A differencing chain (leaf first, base last) that is itself a `DiskImage`.
///
/// Reads resolve through a `ChainMap` built at open, never by walking the chain per request;
/// writes go to the leaf only. Parents are opened read-only.
public final class ImageChain: DiskImage {
    /// Layer 0 is the leaf (the only writable one); the last is the base.
    public let layers: [any ImageLayer]
    /// The path each layer was opened from (empty strings when built from stores).
    public let paths: [String]
    let map: ChainMap

    /// Builds a chain from opened layers, checking that each child names its parent's UUID
    /// and that all VHD layers share one block size.
    public init(layers: [any ImageLayer], paths: [String] = []) throws {
        precondition(!layers.isEmpty, "a chain has at least one layer")
        for (i, layer) in layers.enumerated() where i > 0 {
            guard layer.blockBytes == layers[0].blockBytes else {
                throw VHDError(.unsupported, file: layer.name, offset: 0, field: "header.blockSize",
                               "block size \(layer.blockBytes) differs from the leaf's \(layers[0].blockBytes)")
            }
            if let child = layers[i - 1] as? VHDImage {
                try ImageChain.verifyLink(child: child, parent: layer)
            }
        }
        self.layers = layers
        self.paths = paths.isEmpty ? layers.map(\.name) : paths
        map = ChainMap(layers: layers, virtualSize: layers[0].virtualSize)
    }

    public var name: String { layers[0].name }
    public var virtualSize: UInt64 { layers[0].virtualSize }
    public var isReadOnly: Bool { layers[0].isReadOnly }
    public var depth: Int { layers.count }
    public var layerStores: [any BlockIO] { layers.map { $0.layerStores[0] } }
    /// Blocks whose sectors interleave between layers (kept as per-sector maps).
    public var mixedBlockCount: Int { map.mixedBlockCount }

    /// Resolves the owner of every sector now instead of on first touch of each partial block.
    public func preloadMap() throws { try map.resolveAll() }

    static func verifyLink(child: VHDImage, parent: any ImageLayer) throws {
        guard let header = child.header, child.diskType == .differencing else {
            throw VHDError(.badField, file: child.name, offset: 60, field: "footer.diskType",
                           "\(child.diskType) disk cannot have a parent")
        }
        let expected = header.parentUUID
        if expected.isNull { return }  // a raw parent has no UUID to compare
        guard let found = parent.layerUUID, found == expected else {
            throw VHDError(.parentMismatch, file: child.name, offset: child.footer.dataOffset + 40, field: "header.parentUUID",
                           "expects parent \(expected), \(parent.name) is \(parent.layerUUID?.description ?? "raw")")
        }
    }

    public func resolve(at offset: VirtualOffset, length: UInt64) throws -> [ReadExtent] {
        var out: [ReadExtent] = []
        try resolve(at: offset, length: length, into: &out)
        return out
    }

    public func resolve(at offset: VirtualOffset, length: UInt64, into out: inout [ReadExtent]) throws {
        try validateRange(offset, length)
        out.removeAll(keepingCapacity: true)
        var pos = offset.bytes
        let end = offset.bytes + length, blockBytes = map.blockBytes
        while pos < end {
            let inBlock = pos % blockBytes
            let n = min(blockBytes - inBlock, end - pos)
            try map.appendExtents(&out, block: Int(pos / blockBytes), from: inBlock, length: n)
            pos += n
        }
    }

    public func write(_ data: UnsafeRawBufferPointer, at offset: VirtualOffset) throws {
        guard !isReadOnly else { throw DiskImageError.readOnly(image: name) }
        try validateRange(offset, UInt64(data.count))
        let blockBytes = map.blockBytes, sector = VHDLimits.sectorBytes
        var done = 0
        while done < data.count {
            let pos = offset.bytes + UInt64(done), inBlock = pos % blockBytes
            let n = Int(min(blockBytes - inBlock, UInt64(data.count - done)))
            try layers[0].write(UnsafeRawBufferPointer(rebasing: data[done..<(done + n)]), at: VirtualOffset(pos))
            try map.noteTopWrite(block: Int(pos / blockBytes),
                                 sectors: Int(inBlock / sector)..<Int((inBlock + UInt64(n)) / sector))
            done += n
        }
    }

    public func flush() throws { try layers[0].flush() }

    /// Checks every layer and every link.
    public func check() -> CheckReport {
        var r = CheckReport()
        for (i, layer) in layers.enumerated() {
            r.merge(layer.check())
            if i > 0, let child = layers[i - 1] as? VHDImage {
                do { try ImageChain.verifyLink(child: child, parent: layer) } catch let e as VHDError { r.add(e) } catch {}
            }
        }
        return r
    }

    public func close() throws {
        var failure: Error?
        for layer in layers {
            do { try layer.close() } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    // MARK: Opening by path

    /// Opens a store: `(path, readOnly)`; throw `BlockIOError.open` with ENOENT for a missing file.
    public typealias Opener = (String, Bool) throws -> any BlockIO

    /// Opens the image at `path` and its ancestors on local files.
    public static func open(_ path: String, on loop: EventLoop, readOnly: Bool = false) throws -> ImageChain {
        try open(path, readOnly: readOnly) { p, ro in try LocalFile.open(p, on: loop, options: .init(readOnly: ro)) }
    }

    /// Opens the image at `path` and follows parent links (locators, then the header's
    /// parent name next to the child), checking each parent's UUID, loops and depth.
    public static func open(_ path: String, readOnly: Bool = false, opener: Opener) throws -> ImageChain {
        var layers: [any ImageLayer] = [], paths: [String] = []
        var seen: Set<VHDUUID> = []
        var ok = false
        defer { if !ok { for l in layers { l.layerStores[0].close() } } }
        var current = path
        var store = try opener(path, readOnly)
        while true {
            let child = layers.last as? VHDImage
            let layer: any ImageLayer
            if let child, child.header?.parentUUID.isNull == true {
                layer = RawImage(store: store, readOnly: true)
            } else {
                do { layer = try VHDImage.open(store, readOnly: layers.isEmpty ? readOnly : true) } catch {
                    store.close()
                    throw error
                }
            }
            layers.append(layer)
            paths.append(current)
            if let child { try verifyLink(child: child, parent: layer) }
            guard let image = layer as? VHDImage, image.diskType == .differencing else { break }
            guard seen.insert(image.footer.uuid).inserted else {
                throw VHDError(.parentLoop, file: child?.name ?? image.name, offset: (child ?? image).footer.dataOffset + 40,
                               field: "header.parentUUID", "the chain returns to \(image.name) (\(image.footer.uuid))")
            }
            if let header = image.header, header.parentUUID == image.footer.uuid {
                throw VHDError(.parentLoop, file: image.name, offset: image.footer.dataOffset + 40, field: "header.parentUUID",
                               "the image names itself as its parent")
            }
            guard layers.count < VHDLimits.chainDepthMax else {
                throw VHDError(.chainTooDeep, file: path, offset: 0, field: "chain",
                               "more than \(VHDLimits.chainDepthMax) layers")
            }
            (current, store) = try openParent(of: image, at: current, opener: opener)
        }
        let chain = try ImageChain(layers: layers, paths: paths)
        ok = true
        return chain
    }

    /// The candidate paths of a child's parent, in the order blktap tries them: each
    /// locator (absolute, else relative to the child's directory), then the header name.
    static func parentCandidates(of child: VHDImage, at childPath: String) throws -> [String] {
        guard let header = child.header else { return [] }
        let dir = PathText.dirname(childPath)
        var out: [String] = []
        for (i, l) in header.locators.enumerated() where !l.isEmpty {
            let at = child.footer.dataOffset + 576 + UInt64(24 * i)
            if let p = try ParentLocator.readPath(l, store: child.store, entryOffset: at, index: i) {
                out.append(p.hasPrefix("/") ? p : PathText.join(dir, p))
            }
        }
        let name = PathText.basename(header.parentName.replacingAll("\\", with: "/"))
        if !name.isEmpty { out.append(PathText.join(dir, name)) }
        var unique: [String] = []
        for p in out where !unique.contains(p) { unique.append(p) }
        return unique
    }

    private static func openParent(of child: VHDImage, at childPath: String, opener: Opener) throws -> (String, any BlockIO) {
        let candidates = try parentCandidates(of: child, at: childPath)
        for candidate in candidates {
            do { return (candidate, try opener(candidate, true)) } catch let e as BlockIOError {
                if case let .open(_, code, _) = e, code == ENOENT || code == ENOTDIR { continue }
                throw e
            }
        }
        throw VHDError(.parentMissing, file: child.name, offset: child.footer.dataOffset + 64, field: "header.parentUnicodeName",
                       "parent \(child.header?.parentName ?? "?") not found; tried \(candidates.joined(separator: ", "))")
    }
}
