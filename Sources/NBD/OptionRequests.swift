/// The decoded data of the options that carry structure; nil from a decoder means the
/// client sent a malformed option (answered ERR_INVALID).
public struct InfoRequest: Equatable, Sendable {
    public var exportName: String
    public var infoTypes: [UInt16]

    /// INFO/GO data: u32 name length, name, u16 count, count × u16.
    public static func decode(_ data: [UInt8]) -> InfoRequest? {
        var r = ByteReader(data)
        guard let nameLength = r.u32(), nameLength <= UInt32(NBDLimits.stringBytesMax),
              let name = r.string(Int(nameLength)), let count = r.u16(),
              Int(count) <= NBDLimits.infoRequestCountMax, r.remaining == Int(count) * 2 else { return nil }
        var types: [UInt16] = []
        for _ in 0..<count { types.append(r.u16()!) }
        return InfoRequest(exportName: name, infoTypes: types)
    }
}

/// LIST_META_CONTEXT / SET_META_CONTEXT data: an export name and the context queries.
public struct MetaContextRequest: Equatable, Sendable {
    public var exportName: String
    public var queries: [String]

    /// u32 name length, name, u32 query count, count × (u32 length, string); every byte used.
    public static func decode(_ data: [UInt8]) -> MetaContextRequest? {
        var r = ByteReader(data)
        guard let nameLength = r.u32(), nameLength <= UInt32(NBDLimits.stringBytesMax),
              let name = r.string(Int(nameLength)), let count = r.u32() else { return nil }
        // Each query needs at least its u32 length: bound the count by the bytes left.
        guard UInt64(count) * 4 <= UInt64(r.remaining) else { return nil }
        var queries: [String] = []
        for _ in 0..<count {
            guard let length = r.u32(), length <= UInt32(NBDLimits.stringBytesMax),
                  let query = r.string(Int(length)) else { return nil }
            queries.append(query)
        }
        guard r.remaining == 0 else { return nil }
        return MetaContextRequest(exportName: name, queries: queries)
    }

    /// Whether `query` names `base:allocation`; LIST also accepts the namespace wildcard.
    public static func matchesBaseAllocation(_ query: String, listing: Bool) -> Bool {
        query == NBDMetaContext.baseAllocation || (listing && query == "base:")
    }
}
