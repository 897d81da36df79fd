import ImageFormats

/// Every limit of the SR/VDI engine, in one place; `SRLimitsTests` checks how they relate.
///
/// The values follow XenServer's SM (`vhdutil.py`, `FileSR.py`) so that an SR written here
/// behaves like one written there.
public enum SRLimits {
    /// sm `MIN_VHD_SIZE`: the smallest VDI.
    public static let vdiSizeMin: UInt64 = VHDLimits.sizeBytesMin
    /// sm `MAX_VHD_SIZE` (2040 GiB): the largest VDI.
    public static let vdiSizeMax: UInt64 = VHDLimits.sizeBytesMax
    /// VDI sizes are rounded up to whole VHD blocks.
    public static let vdiSizeGranule: UInt64 = VHDLimits.sizeGranuleBytes
    /// sm `MAX_CHAIN_SIZE`: a snapshot that would make a chain deeper than this is refused.
    public static let chainDepthMax = VHDLimits.chainDepthMax
    /// Extra bytes every space check keeps free for journals, metadata and filesystem blocks.
    public static let spaceSlackBytes: UInt64 = 4 << 20
    /// Filesystem allocation granule assumed when estimating an image's metadata footprint.
    public static let filesystemBlockBytes: UInt64 = 4096
    /// The SR metadata file is refused beyond this size (hostile or damaged input).
    public static let metadataBytesMax = 64 << 20
    /// A journal file is refused beyond this size.
    public static let journalBytesMax = 1 << 20
    /// How long a lock is waited for before the operation fails (LockErr / VDIInUse).
    public static let lockWaitSecondsMax: Double = 120
    /// Polling interval while a lock is held elsewhere (fcntl F_SETLK retries).
    public static let lockPollMicroseconds: UInt32 = 2_000
    /// How long the collector follows a live leaf-merge before giving up on it (it converges
    /// in one pass; this bounds a daemon that stopped making progress).
    public static let liveMergeSecondsMax: Double = 3600
    /// How often the collector asks the daemon where its live leaf-merge stands.
    public static let liveMergePollMicroseconds: UInt32 = 20_000
    /// Blanks kept per SR: a double snapshot or a clone takes two.
    public static let blankPoolTarget = 2
    /// Bytes moved per I/O by copies (resize, import, export).
    public static let copyChunkBytes = 2 << 20
    /// name-label and name-description are refused beyond this many bytes.
    public static let nameBytesMax = 4096
    /// Largest read a coalesce issues: neighbouring allocated runs of the source (a few
    /// blocks with their bitmap sectors in between) are merged up to this size.
    public static let coalesceReadBytesMax = 8 << 20
    /// Host bytes a coalesce read may skip over to merge two runs (bitmaps, alignment gaps).
    public static let coalesceMergeGapBytesMax: UInt64 = 64 << 10
    /// Coalesce reads kept in flight ahead of the writes into the parent.
    public static let coalesceReadAheadCountMax = 4
    /// Bytes a coalesce copies between two looks at the abort flag.
    public static let gcAbortPollBytes: UInt64 = 64 << 20
    /// Passes (garbage sweep + one merge) one collector run makes at most; every pass that
    /// does work removes an image, so this only bounds a run over a damaged SR.
    public static let gcPassCountMax = 4 * 1024
    /// How long a coalesce waits, after its copy, for the locks of the merged VDI's children
    /// (a snapshot of one may be running); past it the merge is rolled back for this run.
    public static let gcCommitLockWaitSeconds: Double = 10
    /// Host bytes a coalesce may add to the parent per source block beyond its data:
    /// the sector bitmap and the 4 KiB alignment gap.
    public static let coalesceBlockOverheadBytes: UInt64 = 8 << 10
    /// How long an NFS SR's lease on the server lasts unless renewed (a dead holder's
    /// lease is broken after it), and how often a host waiting for it looks again.
    public static let nfsLeaseSeconds: Double = 60
    public static let nfsLeasePollMicroseconds: UInt32 = 50_000
}
