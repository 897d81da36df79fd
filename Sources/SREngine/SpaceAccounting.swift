/// Worst-case space an operation needs before it starts, so that it is refused with
/// SRNoSpace up front instead of failing half-way (thin provisioning: images start with
/// metadata only and grow as data is written).
enum SpaceAccounting {
    /// Bytes a new, empty VHD of `virtualSize` occupies: footer copy, header, BAT, batmap,
    /// parent locators and trailing footer, rounded to filesystem blocks.
    static func emptyImageBytes(virtualSize: UInt64) -> UInt64 {
        let sector: UInt64 = 512
        let entries = (virtualSize + SRLimits.vdiSizeGranule - 1) / SRLimits.vdiSizeGranule
        let bat = roundUp(entries * 4, sector)
        let batmap = sector + roundUp((entries + 7) / 8, sector)
        let locators = 3 * sector
        let total = 512 + 1024 + bat + batmap + locators + 512
        return roundUp(total, SRLimits.filesystemBlockBytes)
    }

    static func roundUp(_ v: UInt64, _ unit: UInt64) -> UInt64 { (v + unit - 1) / unit * unit }
}

extension AttachedSR {
    /// Throws `noSpace` unless `bytes` (plus the slack for journals and metadata) are free.
    public func ensureSpace(_ bytes: UInt64, for operation: String) throws {
        let free = try repository.freeSpace().freeBytes
        let needed = bytes + SRLimits.spaceSlackBytes
        guard needed <= free else { throw SREngineError.noSpace(needed: needed, available: free, operation: operation) }
    }
}
