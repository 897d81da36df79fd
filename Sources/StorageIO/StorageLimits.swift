/// Every limit of the BlockIO layer, in one place. `StorageLimitsTests` checks how they relate.
public enum StorageLimits {
    /// The alignment O_DIRECT buffers are allocated with: a page, which satisfies any
    /// logical sector size up to 4 KiB.
    public static let bufferAlignment = 4096
    /// Largest single request on a local file (the kernel splits it further as it likes).
    public static let fileTransferBytesMax = 8 << 20
    /// Submission queue entries of an event loop's ring; completion queue is twice that.
    public static let ringEntries: UInt32 = 512
    /// Requests a libaio context may have in flight.
    public static let aioDepthMax: Int32 = 512
    /// Worker threads of the pread/pwrite fallback engine.
    public static let threadPoolWorkers = 8
    /// Requests in flight that the loop and engines are built to sustain per store.
    public static let inflightCountMax = 512
}
