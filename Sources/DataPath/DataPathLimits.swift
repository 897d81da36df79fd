import NBD

/// Every limit of the data path, in one place. `DataPathLimitsTests` checks how they relate.
public enum DataPathLimits {
    /// Request slots per connection: requests in flight (read, being served, or being replied)
    /// at once. The brief asks for at least 64; fio and qemu use 16–32, nbdcopy up to 64.
    public static let slotsPerConnection = 128
    /// The receive staging buffer of a connection: many small requests arrive in one recv.
    public static let receiveBufferBytes = 256 << 10
    /// Buffer bytes one connection may hold before it stops reading requests: bounds the
    /// memory of a client that queues large reads and never takes the replies.
    public static let connectionBufferBytesMax = 64 << 20
    /// Recv calls one readable event may make before yielding to other connections.
    public static let receivesPerEvent = 16
    /// iovecs one sendmsg carries (two per reply: header and data).
    public static let sendIovecsMax = 64
    /// Connections one server serves at once; more are accepted and closed at once.
    public static let connectionsMax = 64
    /// Pending connections the kernel queues per listening socket.
    public static let listenBacklog = 64
    /// The smallest buffer the cache hands out (and the alignment of every buffer).
    public static let bufferBytesMin = 4096
    /// Buffers kept for reuse per size class, by class size: small ones are the hot path.
    public static func buffersKept(classBytes: Int) -> Int {
        classBytes <= 64 << 10 ? 2 * slotsPerConnection : classBytes <= 1 << 20 ? 64 : 4
    }
    /// The shared zero source for WRITE_ZEROES without a hole.
    public static let zeroBufferBytes = 1 << 20
    /// Largest payload advertised, before the backend's own transfer limit narrows it.
    public static let payloadBytesMax = NBDLimits.payloadBytesMax
    /// Default time a client has to finish negotiating.
    public static let negotiationTimeoutNanoseconds: Int64 = 30_000_000_000
    /// How often the server looks for connections stuck in negotiation (it also bounds
    /// how long the loop sleeps when idle).
    public static let sweepIntervalNanoseconds: Int64 = 1_000_000_000
    /// How long a stopping server waits for clients to finish before closing them.
    public static let shutdownGraceNanoseconds: Int64 = 5_000_000_000
    /// Requests in flight (all connections) below which the server never polls: at low
    /// depth, sleeping costs less than a spinning thread that competes with the client.
    public static let pollDepthMin = 4
    /// Bytes in flight above which the server never polls (large transfers).
    public static let pollBytesInFlightMax = 1 << 20
    /// The longest poll window a server may be configured with (it burns CPU while busy).
    public static let pollNanosecondsMax: Int64 = 10_000_000
    /// The daemon's poll window unless told otherwise: longer than the gaps between
    /// completions of a QD32 4 KiB load here, so a busy loop does not halt its vCPU.
    public static let pollNanosecondsDefault: Int64 = 200_000
    /// The longest Unix socket path (sun_path holds 108 bytes with the terminator).
    public static let unixPathBytesMax = 107
    /// Control socket clients served at once (tools, the engine); more are closed at once.
    public static let controlConnectionsMax = 16
    /// The longest control request line: a path (PATH_MAX) and JSON around it.
    public static let controlLineBytesMax = 16 << 10
}
