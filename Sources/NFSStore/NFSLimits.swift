/// Every limit of the NFS store, in one place (`NFSLimitsTests` checks how they relate).
public enum NFSLimits {
    /// libnfs 4.0 encodes an NFSv4 COMPOUND into a fixed 4 KiB buffer, so a WRITE carrying
    /// more than about 3.9 KB fails to encode ("Failed to encode COMPOUND4args"; fixed in
    /// libnfs 5.0). NFSv4 writes are cut into pieces of at most this many bytes.
    public static let v4WriteBytesMax = 3584
    /// The largest request a store accepts; it is cut into pieces of the server's rsize/wsize.
    public static let transferBytesMax = 32 << 20
    /// Requests one NFS file keeps in flight; more wait in order.
    public static let inflightCountMax = 256
    /// How often a connection with work outstanding runs libnfs's timeout scan, retries due
    /// requests and, while disconnected, attempts to reconnect (libnfs asks for ~100 ms).
    public static let tickNanoseconds: UInt64 = 50_000_000
    /// First wait before retrying after a transport failure; it doubles up to the maximum.
    public static let retryBackoffNanosecondsMin: UInt64 = 50_000_000
    public static let retryBackoffNanosecondsMax: UInt64 = 1_000_000_000
    /// XenServer's NFS SR defaults (`nfs-timeout` in deciseconds, `nfs-retrans`).
    public static let timeoDecisecondsDefault = 200
    public static let retransDefault = 4
    /// Bounds a caller may configure: timeo 0.1 s .. 10 min, retrans 0 .. 100.
    public static let timeoDecisecondsRange = 1...6000
    public static let retransRange = 0...100
    /// A small file (metadata, journal, lease) read whole is refused above this size.
    public static let smallFileBytesMax = 64 << 20
}
