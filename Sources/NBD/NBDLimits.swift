/// Every limit of the NBD protocol layer, in one place. `NBDLimitsTests` checks how they relate.
public enum NBDLimits {
    /// Largest option payload kept in memory; longer options are read and discarded, then
    /// answered ERR_TOO_BIG.
    public static let optionBytesMax = 64 << 10
    /// Longest export name or metadata context query the server looks at (proto.md: 4096).
    public static let stringBytesMax = 4096
    /// Options one negotiation may carry before the server gives up on the client.
    public static let optionCountMax = 1024
    /// Info requests one INFO/GO may carry.
    public static let infoRequestCountMax = 64
    /// The size of a request header on the wire.
    public static let requestHeaderBytes = 28
    public static let simpleReplyHeaderBytes = 16
    public static let structuredChunkHeaderBytes = 20
    /// OFFSET_DATA chunk: header plus the u64 offset before the data.
    public static let offsetDataPrefixBytes = structuredChunkHeaderBytes + 8
    /// OFFSET_HOLE chunk: header, u64 offset, u32 size.
    public static let offsetHoleChunkBytes = structuredChunkHeaderBytes + 12
    /// ERROR chunk without a message: header, u32 error, u16 message length.
    public static let errorChunkBytes = structuredChunkHeaderBytes + 6
    /// BLOCK_STATUS chunk before its descriptors: header and the u32 context id.
    public static let blockStatusPrefixBytes = structuredChunkHeaderBytes + 4
    /// Each block status descriptor: u32 length, u32 flags.
    public static let blockStatusDescriptorBytes = 8
    /// The most a reply header of any kind occupies (ERROR chunk is the largest we send).
    public static let replyHeaderBytesMax = 32
    /// Largest payload a request may carry or ask for (the advertised maximum block size).
    public static let payloadBytesMax = 32 << 20
    /// Preferred block size advertised in INFO_BLOCK_SIZE.
    public static let preferredBlockBytes = 4096
    /// The largest minimum block size the protocol allows.
    public static let minimumBlockBytesMax = 64 << 10
    /// Block status descriptors one reply may carry.
    public static let blockStatusExtentsMax = 1024
    /// Bytes of the EXPORT_NAME reply padding that NO_ZEROES omits.
    public static let exportNamePaddingBytes = 124
}
