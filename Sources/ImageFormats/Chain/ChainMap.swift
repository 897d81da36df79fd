/// Which layer of a chain holds each sector, per block, so that a read costs the same at
/// depth 1 and depth 30.
///
/// Built at open from the layers' BATs and batmaps (in memory, no bitmap I/O): a block that
/// no layer holds reads as zeros, a block whose topmost holder is full maps to that layer.
/// Only blocks where the topmost holder is partial need sector bitmaps; they are resolved
/// on first access (one bitmap read per layer holding the block, once), and only those
/// keep a per-sector owner array. A 2 TiB chain therefore opens with one BAT read per layer.
final class ChainMap {
    /// Per-sector owners of a block where layers interleave.
    final class MixedBlock {
        /// Layer index per sector, -1 for zeros.
        var owner: [Int8]
        /// Data area of this block in each layer (valid where some sector names the layer).
        var dataStart: [UInt64]

        init(owner: [Int8], dataStart: [UInt64]) {
            self.owner = owner
            self.dataStart = dataStart
        }
    }

    enum Entry {
        case unresolved
        case zero
        case uniform(layer: Int, dataStart: UInt64)
        case mixed(MixedBlock)
    }

    let layers: [any ImageLayer]
    let blockBytes: UInt64
    let sectorsPerBlock: Int
    private(set) var entries: [Entry]

    init(layers: [any ImageLayer], virtualSize: UInt64) {
        self.layers = layers
        blockBytes = layers[0].blockBytes
        sectorsPerBlock = Int(blockBytes / VHDLimits.sectorBytes)
        let count = Int((virtualSize + blockBytes - 1) / blockBytes)
        entries = []
        entries.reserveCapacity(count)
        for b in 0..<count { entries.append(summarize(b)) }
    }

    /// Sectors of `block` that lie inside layer `k`'s disk (a parent may be smaller).
    private func sectorLimit(_ k: Int, _ block: Int) -> Int {
        let base = UInt64(block) * blockBytes, size = layers[k].virtualSize
        return size <= base ? 0 : Int(min(blockBytes, size - base) / VHDLimits.sectorBytes)
    }

    private func summarize(_ b: Int) -> Entry {
        for k in layers.indices {
            let limit = sectorLimit(k, b)
            if limit == 0 { continue }
            switch layers[k].blockSummary(b) {
            case .absent?: continue
            case let .full(start)?: return limit == sectorsPerBlock ? .uniform(layer: k, dataStart: start.bytes) : .unresolved
            default: return .unresolved
            }
        }
        return .zero
    }

    /// The entry for `block`, reading bitmaps the first time a partial block is touched.
    func entry(_ b: Int) throws -> Entry {
        if case .unresolved = entries[b] { entries[b] = try resolveFromBitmaps(b) }
        return entries[b]
    }

    private func resolveFromBitmaps(_ b: Int) throws -> Entry {
        let pending: Int8 = -2
        var owner = [Int8](repeating: pending, count: sectorsPerBlock)
        var starts = [UInt64](repeating: 0, count: layers.count)
        var left = sectorsPerBlock
        for k in layers.indices where left > 0 {
            let limit = sectorLimit(k, b)
            if limit == 0 { continue }
            switch try layers[k].layerBlock(b) {
            case .absent: continue
            case let .full(start):
                starts[k] = start.bytes
                for s in 0..<limit where owner[s] == pending { owner[s] = Int8(k); left -= 1 }
            case let .partial(start, bitmap):
                starts[k] = start.bytes
                for s in 0..<limit where owner[s] == pending && bitmap.test(s) { owner[s] = Int8(k); left -= 1 }
            }
        }
        for s in owner.indices where owner[s] == pending { owner[s] = -1 }
        return Self.compact(MixedBlock(owner: owner, dataStart: starts))
    }

    /// A mixed block whose sectors all have one owner becomes zero or uniform.
    private static func compact(_ m: MixedBlock) -> Entry {
        let first = m.owner[0]
        guard m.owner.allSatisfy({ $0 == first }) else { return .mixed(m) }
        return first < 0 ? .zero : .uniform(layer: Int(first), dataStart: m.dataStart[Int(first)])
    }

    /// Appends the extents of `[from, from+length)` bytes within `block`.
    func appendExtents(_ out: inout [ReadExtent], block b: Int, from: UInt64, length: UInt64) throws {
        let base = UInt64(b) * blockBytes
        switch try entry(b) {
        case .unresolved:
            preconditionFailure("entry() resolves every block")
        case .zero:
            appendExtent(&out, ReadExtent(virtualOffset: VirtualOffset(base + from), length: length, source: .zero))
        case let .uniform(layer, start):
            appendExtent(&out, ReadExtent(virtualOffset: VirtualOffset(base + from), length: length,
                                          source: .host(layer: layer, offset: HostOffset(start + from))))
        case let .mixed(m):
            let sector = VHDLimits.sectorBytes
            var s = Int(from / sector)
            let limit = Int((from + length) / sector)
            while s < limit {
                let k = m.owner[s]
                var e = s + 1
                while e < limit && m.owner[e] == k { e += 1 }
                let offset = UInt64(s) * sector
                let source: ReadExtent.Source = k < 0 ? .zero
                    : .host(layer: Int(k), offset: HostOffset(m.dataStart[Int(k)] + offset))
                appendExtent(&out, ReadExtent(virtualOffset: VirtualOffset(base + offset), length: UInt64(e - s) * sector,
                                              source: source))
                s = e
            }
        }
    }

    /// Records that the top layer now holds `sectors` of `block` (after a write to it).
    func noteTopWrite(block b: Int, sectors: Range<Int>) throws {
        switch entries[b] {
        case .unresolved: return
        case .uniform(layer: 0, _): return
        default: break
        }
        let top = try layers[0].layerBlock(b)
        let start: UInt64
        switch top {
        case let .full(s):
            if sectorLimit(0, b) == sectorsPerBlock {
                entries[b] = .uniform(layer: 0, dataStart: s.bytes)
                return
            }
            start = s.bytes
        case let .partial(s, _): start = s.bytes
        case .absent: preconditionFailure("the top layer was just written")
        }
        let m: MixedBlock
        switch entries[b] {
        case let .mixed(existing): m = existing
        case .zero:
            m = MixedBlock(owner: [Int8](repeating: -1, count: sectorsPerBlock), dataStart: [UInt64](repeating: 0, count: layers.count))
        case let .uniform(layer, s):
            var starts = [UInt64](repeating: 0, count: layers.count)
            starts[layer] = s
            m = MixedBlock(owner: [Int8](repeating: Int8(layer), count: sectorsPerBlock), dataStart: starts)
        case .unresolved: return
        }
        m.dataStart[0] = start
        for s in sectors { m.owner[s] = 0 }
        entries[b] = Self.compact(m)
    }

    /// Resolves every block now (reads the bitmaps of every partial block), for callers
    /// that prefer a slower open to a first touch that reads bitmaps.
    func resolveAll() throws {
        for b in entries.indices { _ = try entry(b) }
    }

    /// How many blocks need per-sector owners (for tests and statistics).
    var mixedBlockCount: Int { entries.reduce(0) { if case .mixed = $1 { $0 + 1 } else { $0 } } }
}
