/// An SR's space, as SM's sr_update reports it to the toolstack.
public struct SRStats: Sendable, Equatable {
    /// Size of the storage under the SR.
    public var physicalSize: UInt64
    /// Bytes in use on that storage (size − free, as SM's file SR measures it).
    public var physicalUtilisation: UInt64
    /// Sum of the virtual sizes of managed VDIs.
    public var virtualAllocation: UInt64
    /// Bytes the SR's images occupy (sum of VDI physical utilisation, base copies included).
    public var imageBytes: UInt64
    public var freeBytes: UInt64
    public var vdiCount: Int
}

extension AttachedSR {
    /// Refreshes every VDI's physical utilisation and returns the SR's space figures.
    public func update() throws -> SRStats {
        try withSRLock {
            var meta = try metadata()
            let before = meta
            for uuid in meta.vdis.keys { meta.vdis[uuid]!.physicalUtilisation = utilisation(uuid) }
            if meta != before { try save(meta) }
            let space = try repository.freeSpace()
            return SRStats(physicalSize: space.totalBytes,
                           physicalUtilisation: space.totalBytes - min(space.totalBytes, space.freeBytes),
                           virtualAllocation: meta.virtualAllocation,
                           imageBytes: meta.vdis.values.reduce(0) { $0 + $1.physicalUtilisation },
                           freeBytes: space.freeBytes, vdiCount: meta.vdis.values.filter(\.managed).count)
        }
    }
}
