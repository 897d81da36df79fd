import StorageIO

/// Writes whose data I/O the caller issues itself, asynchronously (the live leaf-merge):
/// place the range, write the data at the returned host offset on `store`, and once that
/// write has completed, note the range present.
///
/// This keeps the order `write` keeps: data in place before any bitmap bit vouches for it,
/// and `flush()` makes bits, BAT and batmap durable only after the data. Between placing and
/// noting, the sectors read as before (their bits are clear), so a flush or a crash in
/// between loses nothing acknowledged. Each range lies within one block.
extension VHDImage {
    /// Where `[offset, offset+length)` lies in the file when its block is allocated (or the
    /// disk is fixed); nil when the block must be allocated first. Memory only, no I/O.
    public func writePlacement(at offset: VirtualOffset, length: UInt64) -> HostOffset? {
        let block = placedBlock(offset, length)
        guard let header else { return HostOffset(offset.bytes) }
        guard bat.isAllocated(block) else { return nil }
        return HostOffset(VHDLayout.dataStart(batEntry: bat[block], header: header) + offset.bytes % blockBytes)
    }

    /// Allocates the block holding `[offset, offset+length)` (in memory; durable at the next
    /// flush) and returns where the range lies. Leftovers of a crashed allocation outside the
    /// range are zeroed first (synchronous I/O); the range itself is the caller's to write.
    public func allocateForWrite(at offset: VirtualOffset, length: UInt64) throws -> HostOffset {
        guard !isReadOnly else { throw DiskImageError.readOnly(image: name) }
        if let host = writePlacement(at: offset, length: length) { return host }
        let inBlock = offset.bytes % blockBytes
        try allocateBlock(placedBlock(offset, length), header: header!, keeping: inBlock..<(inBlock + length))
        return writePlacement(at: offset, length: length)!
    }

    /// Records that the data of a placed range is in the file: sets its bitmap bits (and the
    /// batmap bit once the block is full). Call it only after the data write completed.
    public func notePresent(at offset: VirtualOffset, length: UInt64) throws {
        guard !isReadOnly else { throw DiskImageError.readOnly(image: name) }
        guard header != nil, length > 0 else { return }
        let block = placedBlock(offset, length)
        let sector = VHDLimits.sectorBytes, inBlock = offset.bytes % blockBytes
        try markPresent(block, sectors: Int(inBlock / sector)..<Int((inBlock + length) / sector))
    }

    /// The block of a placed range. Callers pass ranges of validated requests: anything
    /// else (not whole sectors, past the end, across blocks) is a programmer error.
    private func placedBlock(_ offset: VirtualOffset, _ length: UInt64) -> Int {
        let sector = VHDLimits.sectorBytes
        precondition(offset.bytes % sector == 0 && length % sector == 0 && offset.bytes + length <= virtualSize,
                     "a placed write outside whole sectors of the disk: \(offset.bytes)+\(length)")
        let block = Int(offset.bytes / blockBytes)
        precondition(length == 0 || (offset.bytes + length - 1) / blockBytes == UInt64(block),
                     "a placed write spans blocks: \(offset.bytes)+\(length)")
        return block
    }
}
