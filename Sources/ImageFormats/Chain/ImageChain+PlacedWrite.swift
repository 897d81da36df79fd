import StorageIO

/// Placed writes through a chain go to its leaf, and noting them also updates the chain
/// map, exactly as `write` does after the leaf's write.
extension ImageChain: PlacedWriting {
    private var placedLeaf: VHDImage? { layers[0] as? VHDImage }

    public var acceptsPlacedWrites: Bool { placedLeaf?.acceptsPlacedWrites ?? false }
    public var placementBlockBytes: UInt64 { map.blockBytes }

    public func writePlacement(at offset: VirtualOffset, length: UInt64) -> HostOffset? {
        leaf().writePlacement(at: offset, length: length)
    }

    public func allocateForWrite(at offset: VirtualOffset, length: UInt64) throws -> HostOffset {
        try leaf().allocateForWrite(at: offset, length: length)
    }

    public func notePresent(at offset: VirtualOffset, length: UInt64) throws {
        try leaf().notePresent(at: offset, length: length)
        guard length > 0 else { return }
        let sector = VHDLimits.sectorBytes, inBlock = offset.bytes % map.blockBytes
        try map.noteTopWrite(block: Int(offset.bytes / map.blockBytes),
                             sectors: Int(inBlock / sector)..<Int((inBlock + length) / sector))
    }

    private func leaf() -> VHDImage {
        guard let leaf = placedLeaf else { preconditionFailure("placed write on a chain whose leaf is not a VHD") }
        return leaf
    }
}
