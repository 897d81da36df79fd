import StorageIO

/// A raw disk image: the store's bytes are the disk. Every sector is data.
public final class RawImage: ImageLayer {
    public let store: any BlockIO
    public let virtualSize: UInt64
    public let isReadOnly: Bool
    public let blockBytes = VHDLimits.blockBytesDefault

    /// Opens `store` as a raw disk of its whole size (rounded down to sectors).
    public init(store: any BlockIO, readOnly: Bool = false) {
        self.store = store
        self.virtualSize = store.size / VHDLimits.sectorBytes * VHDLimits.sectorBytes
        self.isReadOnly = readOnly || store.capabilities.isReadOnly
    }

    public var name: String { store.name }
    public var layerStores: [any BlockIO] { [store] }
    public var layerUUID: VHDUUID? { nil }

    public func layerBlock(_ block: Int) throws -> LayerBlock {
        .full(dataStart: HostOffset(UInt64(block) * blockBytes))
    }

    public func blockSummary(_ block: Int) -> LayerBlock? { .full(dataStart: HostOffset(UInt64(block) * blockBytes)) }

    public func resolve(at offset: VirtualOffset, length: UInt64) throws -> [ReadExtent] {
        var out: [ReadExtent] = []
        try resolve(at: offset, length: length, into: &out)
        return out
    }

    public func resolve(at offset: VirtualOffset, length: UInt64, into out: inout [ReadExtent]) throws {
        try validateRange(offset, length)
        out.removeAll(keepingCapacity: true)
        guard length > 0 else { return }
        out.append(ReadExtent(virtualOffset: offset, length: length, source: .host(layer: 0, offset: HostOffset(offset.bytes))))
    }

    public func write(_ data: UnsafeRawBufferPointer, at offset: VirtualOffset) throws {
        guard !isReadOnly else { throw DiskImageError.readOnly(image: name) }
        try validateRange(offset, UInt64(data.count))
        try store.writeFully(data, at: offset.bytes)
    }

    public func flush() throws { try store.flush() }

    public func check() -> CheckReport { CheckReport() }

    public func close() throws {
        defer { store.close() }
        if !isReadOnly { try store.flush() }
    }
}
