/// Every limit and fixed layout constant of the VHD driver, in one place.
///
/// The values follow XenServer (sm `vhdutil.py`, blktap libvhd) so that images we write are
/// accepted by its tools; `VHDLimitsTests` checks how they relate to one another.
public enum VHDLimits {
    /// The unit of the VHD format: BAT entries, bitmaps and locator spaces count these.
    public static let sectorBytes: UInt64 = 512
    public static let footerBytes = 512
    public static let headerBytes = 1024
    public static let batmapHeaderBytes = 512
    /// Where the dynamic disk header sits (footer.dataOffset) in the images we write.
    public static let headerOffset: UInt64 = 512
    /// Where the BAT starts in the images we write (libvhd and qemu agree on 3 sectors).
    public static let tableOffset: UInt64 = 1536
    /// The block size we create: XenServer's tools assume it.
    public static let blockBytesDefault: UInt64 = 2 << 20
    /// libvhd rejects larger blocks; it assumes 2 MiB in its BAT and batmap code.
    public static let blockBytesMax: UInt64 = 2 << 20
    /// Smaller blocks would make the in-memory BAT and chain map unreasonably large.
    public static let blockBytesMin: UInt64 = 4096
    /// sm `MIN_VHD_SIZE`.
    public static let sizeBytesMin: UInt64 = 2 << 20
    /// sm `MAX_VHD_SIZE` and qemu `VHD_MAX_SECTORS`: 2040 GiB.
    public static let sizeBytesMax: UInt64 = 2040 << 30
    /// Sizes are rounded up to whole 2 MiB blocks, as sm and libvhd do.
    public static let sizeGranuleBytes: UInt64 = 2 << 20
    /// BAT entries we accept from a file (32 MiB of BAT); bounds memory on hostile input.
    public static let batEntryCountMax: UInt32 = 8 << 20
    /// The data area of each block starts on a 4 KiB boundary (blktap's gap rule).
    public static let dataAlignmentSectors: UInt64 = 8
    /// BAT entries are u32 sector numbers: no block may start at or past this sector.
    public static let hostSectorLimit: UInt64 = UInt64(UInt32.max)
    /// sm `MAX_CHAIN_SIZE`.
    public static let chainDepthMax = 30
    public static let locatorCount = 8
    /// The parent unicode name field: 256 UTF-16 code units.
    public static let parentNameBytes = 512
    /// A locator's payload larger than this is treated as corrupt (paths are short).
    public static let locatorDataBytesMax: UInt32 = 64 << 10
    /// `vhd-util check` rejects timestamps further than this in the future.
    public static let timestampFutureSlackSeconds: Int64 = 1800
    /// Unix time of the VHD epoch, 2000-01-01 00:00:00 UTC.
    public static let epochUnixSeconds: Int64 = 946_684_800
    /// Bitmaps kept in memory per image before clean ones are dropped.
    public static let bitmapCacheCountMax = 8192
    /// Largest metadata read or write issued at once (the BAT of a 2040 GiB image is ~4 MiB).
    public static let metadataTransferBytesMax = 8 << 20
    /// Metadata writes (bitmaps, BAT sectors) a flush keeps in flight at once.
    public static let metadataWritesInFlightMax = 64
    /// The creator we write: blktap's "tap" 1.3, which carries a batmap and makes qemu
    /// and XenServer's tools trust `currentSize` rather than CHS.
    public static let creatorVersion: UInt32 = 0x0001_0003
    public static let fileFormatVersion: UInt32 = 0x0001_0000
    public static let headerVersion: UInt32 = 0x0001_0000
    public static let batmapVersion: UInt32 = 0x0001_0002
}
