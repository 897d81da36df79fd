import StorageIO

/// An image whose writes the caller may move itself, asynchronously (the data path):
/// place the range, write the data at the returned host offset on the top store, and once
/// that write has completed, note the range present. Between placing and noting, the range
/// reads as before, so a flush or a crash in between loses nothing acknowledged; `flush()`
/// makes the notes durable only after the data (see `VHDImage+PlacedWrite.swift`).
///
/// Each placed range lies within one block of `placementBlockBytes`, in whole sectors.
/// `allocateForWrite` and `notePresent` may do synchronous I/O (zeroing a crashed
/// allocation's leftovers, loading a bitmap), so callers serialise them like other
/// synchronous image calls; `writePlacement` is memory only.
public protocol PlacedWriting: AnyObject {
    /// False when the top layer cannot take placed writes (read-only, not a VHD).
    var acceptsPlacedWrites: Bool { get }
    var placementBlockBytes: UInt64 { get }
    func writePlacement(at offset: VirtualOffset, length: UInt64) -> HostOffset?
    func allocateForWrite(at offset: VirtualOffset, length: UInt64) throws -> HostOffset
    func notePresent(at offset: VirtualOffset, length: UInt64) throws
}

extension VHDImage: PlacedWriting {
    public var acceptsPlacedWrites: Bool { !isReadOnly }
    public var placementBlockBytes: UInt64 { blockBytes }
}
