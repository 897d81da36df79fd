/// Encoders for option replies (`0x0003e889045565a9 | option | type | length | data`).
public enum OptionReplies {
    /// One option reply with `payload`.
    public static func reply(_ option: UInt32, _ type: NBDOptionReply, _ payload: [UInt8] = []) -> [UInt8] {
        var w = ByteWriter()
        w.u64(NBDMagic.optionReply)
        w.u32(option)
        w.u32(type.rawValue)
        w.u32(UInt32(payload.count))
        w.raw(payload)
        return w.bytes
    }

    /// An error reply carrying a human-readable message.
    public static func error(_ option: UInt32, _ type: NBDOptionReply, _ message: String) -> [UInt8] {
        reply(option, type, Array(message.utf8))
    }

    /// `NBD_REP_SERVER` for LIST: the name, then the description.
    public static func server(_ option: UInt32, name: String, description: String) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(name.utf8.count))
        w.string(name)
        w.string(description)
        return reply(option, .server, w.bytes)
    }

    /// `NBD_REP_META_CONTEXT`: the id and the context's name.
    public static func metaContext(_ option: UInt32, id: UInt32, name: String) -> [UInt8] {
        var w = ByteWriter()
        w.u32(id)
        w.string(name)
        return reply(option, .metaContext, w.bytes)
    }

    /// `NBD_INFO_EXPORT`: size and transmission flags.
    public static func infoExport(_ option: UInt32, size: UInt64, flags: NBDTransmissionFlags) -> [UInt8] {
        var w = ByteWriter()
        w.u16(NBDInfoType.export.rawValue)
        w.u64(size)
        w.u16(flags.rawValue)
        return reply(option, .info, w.bytes)
    }

    /// `NBD_INFO_BLOCK_SIZE`: minimum, preferred and maximum payload.
    public static func infoBlockSize(_ option: UInt32, _ export: NBDExportDescription) -> [UInt8] {
        var w = ByteWriter()
        w.u16(NBDInfoType.blockSize.rawValue)
        w.u32(export.minimumBlock)
        w.u32(export.preferredBlock)
        w.u32(export.maximumPayload)
        return reply(option, .info, w.bytes)
    }

    /// `NBD_INFO_NAME` or `NBD_INFO_DESCRIPTION`: a type and a string.
    public static func infoString(_ option: UInt32, _ type: NBDInfoType, _ text: String) -> [UInt8] {
        var w = ByteWriter()
        w.u16(type.rawValue)
        w.string(text)
        return reply(option, .info, w.bytes)
    }

    /// The reply to EXPORT_NAME: no option header, size, flags and (without NO_ZEROES) padding.
    public static func exportName(size: UInt64, flags: NBDTransmissionFlags, noZeroes: Bool) -> [UInt8] {
        var w = ByteWriter()
        w.u64(size)
        w.u16(flags.rawValue)
        if !noZeroes { w.zeros(NBDLimits.exportNamePaddingBytes) }
        return w.bytes
    }

    /// The server's greeting: NBDMAGIC, IHAVEOPT, handshake flags.
    public static func greeting(_ flags: NBDHandshakeFlags) -> [UInt8] {
        var w = ByteWriter()
        w.u64(NBDMagic.server)
        w.u64(NBDMagic.option)
        w.u16(flags.rawValue)
        return w.bytes
    }
}
