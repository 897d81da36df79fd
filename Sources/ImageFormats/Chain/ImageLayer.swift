import StorageIO

/// What one layer of a chain holds for one block: the chain map is built from these.
public enum LayerBlock: Sendable {
    /// Nothing in this layer: look further down.
    case absent
    /// Every sector present; data of sector s at `dataStart + s*512`.
    case full(dataStart: HostOffset)
    /// Only the sectors whose bit is set are present.
    case partial(dataStart: HostOffset, bitmap: SectorBitmap)
}

/// A layer of an image chain: a store plus per-block allocation, in blocks of `blockBytes`.
public protocol ImageLayer: DiskImage {
    var blockBytes: UInt64 { get }
    /// The layer's own id (a VHD footer UUID; nil for raw), checked against child links.
    var layerUUID: VHDUUID? { get }
    /// What this layer holds for `block`, from in-memory state (loading a bitmap if needed).
    func layerBlock(_ block: Int) throws -> LayerBlock
    /// The cheap part of `layerBlock`, from the BAT and batmap only: nil when the block is
    /// allocated but its bitmap must be read to know more.
    func blockSummary(_ block: Int) -> LayerBlock?
}

/// Appends the extents of `[from, from+length)` (bytes within `block`) for a layer's block
/// state: absent reads as zeros, full maps straight through, partial follows the bitmap.
func appendBlockExtents(_ out: inout [ReadExtent], block: Int, from: UInt64, length: UInt64, layer: Int,
                        state: LayerBlock, blockBytes: UInt64 = VHDLimits.blockBytesDefault) throws {
    let sector = VHDLimits.sectorBytes
    let base = UInt64(block) * blockBytes
    switch state {
    case .absent:
        appendExtent(&out, ReadExtent(virtualOffset: VirtualOffset(base + from), length: length, source: .zero))
    case let .full(dataStart):
        appendExtent(&out, ReadExtent(virtualOffset: VirtualOffset(base + from), length: length,
                                      source: .host(layer: layer, offset: dataStart + from)))
    case let .partial(dataStart, bitmap):
        var s = Int(from / sector)
        let limit = Int((from + length) / sector)
        while s < limit {
            let e = bitmap.runEnd(from: s, limit: limit)
            let v = VirtualOffset(base + UInt64(s) * sector), n = UInt64(e - s) * sector
            let source: ReadExtent.Source = bitmap.test(s) ? .host(layer: layer, offset: dataStart + UInt64(s) * sector) : .zero
            appendExtent(&out, ReadExtent(virtualOffset: v, length: n, source: source))
            s = e
        }
    }
}
