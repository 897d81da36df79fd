import StorageIO

/// The virtual disk seam: raw, VHD and image chains implement it, so the data path, export
/// and benchmarks do not care what format or chain depth is underneath.
///
/// Reads are planned before they are done: `resolve` turns a virtual range into host
/// extents (layer, host offset, length) and zero runs, from in-memory maps only. `read` then
/// performs those extents synchronously; an asynchronous data path can issue them itself on
/// `layerStores`. Offsets and lengths are in bytes and must be whole sectors (512).
public protocol DiskImage: AnyObject {
    /// Names the image in errors (the leaf's path for a chain).
    var name: String { get }
    /// Bytes the guest sees.
    var virtualSize: UInt64 { get }
    var isReadOnly: Bool { get }
    /// The store of each layer, indexed as `ReadExtent.Source.host(layer:)` (0 = the top).
    var layerStores: [any BlockIO] { get }

    /// Maps `[offset, offset+length)` to the extents that hold it, in order, without I/O on
    /// data (it may read metadata not yet cached, such as a sector bitmap).
    func resolve(at offset: VirtualOffset, length: UInt64) throws -> [ReadExtent]
    /// `resolve(at:length:)` into `out` (emptied first, capacity kept): the data path's
    /// form, which allocates nothing once `out` has grown to a request's extent count.
    func resolve(at offset: VirtualOffset, length: UInt64, into out: inout [ReadExtent]) throws
    func write(_ data: UnsafeRawBufferPointer, at offset: VirtualOffset) throws
    /// Makes every completed write durable, together with the metadata that finds it.
    func flush() throws
    /// Validates every structure; never throws for damage, it reports it.
    func check() -> CheckReport
    /// Flushes and releases the stores.
    func close() throws
}

extension DiskImage {
    /// The default for formats off the hot path: resolves into a new array, then copies.
    public func resolve(at offset: VirtualOffset, length: UInt64, into out: inout [ReadExtent]) throws {
        let extents = try resolve(at: offset, length: length)
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: extents)
    }

    /// Checks a request's range: whole sectors, inside the disk.
    func validateRange(_ offset: VirtualOffset, _ length: UInt64) throws {
        let sector = VHDLimits.sectorBytes
        guard offset.bytes % sector == 0, length % sector == 0 else {
            throw DiskImageError.unaligned(image: name, offset: offset.bytes, length: length)
        }
        let (end, overflow) = offset.bytes.addingReportingOverflow(length)
        guard !overflow, end <= virtualSize else {
            throw DiskImageError.outOfRange(image: name, offset: offset.bytes, length: length, size: virtualSize)
        }
    }

    /// Reads `buffer.count` bytes at `offset`: resolve, then one I/O per host extent.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: VirtualOffset) throws {
        let extents = try resolve(at: offset, length: UInt64(buffer.count))
        let stores = layerStores
        for e in extents {
            let start = Int(e.virtualOffset.bytes - offset.bytes)
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + Int(e.length))])
            switch e.source {
            case .zero:
                slice.initializeMemory(as: UInt8.self, repeating: 0)
            case let .host(layer, host):
                try stores[layer].readFully(into: slice, at: host.bytes)
            }
        }
    }

    /// Which ranges of `[offset, offset+length)` hold data (and in which layer), and which
    /// read as zeros. Adjacent extents with the same state are merged.
    public func blockStatus(at offset: VirtualOffset, length: UInt64) throws -> [AllocationExtent] {
        var out: [AllocationExtent] = []
        for e in try resolve(at: offset, length: length) {
            let state: AllocationExtent.State
            switch e.source {
            case .zero: state = .zero
            case let .host(layer, _): state = .data(layer: layer)
            }
            if let last = out.last, last.state == state, last.offset.bytes + last.length == e.virtualOffset.bytes {
                out[out.count - 1].length += e.length
            } else {
                out.append(AllocationExtent(offset: e.virtualOffset, length: e.length, state: state))
            }
        }
        return out
    }
}

