/// The VHD disk type, from the footer.
public enum VHDDiskType: UInt32, Sendable, CustomStringConvertible {
    case fixed = 2
    case dynamic = 3
    case differencing = 4

    public var description: String {
        switch self {
        case .fixed: "fixed"
        case .dynamic: "dynamic"
        case .differencing: "differencing"
        }
    }
}

/// The 512-byte VHD footer: identity, size and type of the disk (copied at offset 0 for
/// dynamic and differencing images, where the copy is authoritative after a crash).
public struct Footer: Equatable, Sendable {
    public static let cookie = Array("conectix".utf8)
    /// Feature bit 0x2 ("reserved") must always be set; 0x1 marks a temporary disk.
    public static let featureReserved: UInt32 = 0x2
    public static let featureTemporary: UInt32 = 0x1
    public static let creatorTap = fourCC("tap\0")
    /// The data offset of a fixed disk: "none".
    public static let noDataOffset = UInt64.max
    static let checksumField = 64..<68

    public var features: UInt32 = Footer.featureReserved
    public var fileFormatVersion: UInt32 = VHDLimits.fileFormatVersion
    /// Offset of the dynamic disk header; `noDataOffset` for fixed disks.
    public var dataOffset: UInt64
    /// Seconds since 2000-01-01 UTC.
    public var timestamp: UInt32
    public var creatorApplication: UInt32 = Footer.creatorTap
    public var creatorVersion: UInt32 = VHDLimits.creatorVersion
    /// libvhd writes 0 here; qemu and Microsoft write "Wi2k".
    public var creatorHostOS: UInt32 = 0
    public var originalSize: UInt64
    public var currentSize: UInt64
    public var geometry: Geometry
    public var diskType: VHDDiskType
    public var uuid: VHDUUID
    public var savedState: UInt8 = 0
    /// blktap's extension at byte 85: the image is a hidden (inner) node of a chain.
    public var hidden: UInt8 = 0
    /// The rest of the sector (bytes 86..511), kept as read so check can insist it is zero.
    public var reserved: [UInt8] = [UInt8](repeating: 0, count: 426)

    public init(diskType: VHDDiskType, size: UInt64, uuid: VHDUUID, timestamp: UInt32) {
        self.diskType = diskType
        self.dataOffset = diskType == .fixed ? Footer.noDataOffset : VHDLimits.headerOffset
        self.timestamp = timestamp
        self.originalSize = size
        self.currentSize = size
        self.geometry = Geometry(forSize: size)
        self.uuid = uuid
    }

    /// The footer sector, with its checksum computed.
    public func encode() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: VHDLimits.footerBytes)
        b.putBytes(Footer.cookie, at: 0)
        b.putBE32(features, at: 8)
        b.putBE32(fileFormatVersion, at: 12)
        b.putBE64(dataOffset, at: 16)
        b.putBE32(timestamp, at: 24)
        b.putBE32(creatorApplication, at: 28)
        b.putBE32(creatorVersion, at: 32)
        b.putBE32(creatorHostOS, at: 36)
        b.putBE64(originalSize, at: 40)
        b.putBE64(currentSize, at: 48)
        b.putBE32(geometry.encoded, at: 56)
        b.putBE32(diskType.rawValue, at: 60)
        b.putBytes(uuid.bytes, at: 68)
        b[84] = savedState
        b[85] = hidden
        b.putBytes(reserved, at: 86)
        b.putBE32(vhdChecksum(b, skipping: Footer.checksumField), at: 64)
        return b
    }

    /// Decodes a footer sector read from `file` at `offset`, checking what any use of the
    /// footer depends on: cookie, checksum, disk type and the data offset. The remaining
    /// field rules are `problems(...)`, reported by check.
    public static func decode(_ b: [UInt8], file: String, offset: UInt64) throws -> Footer {
        func fail(_ kind: VHDError.Kind, _ at: Int, _ field: String, _ detail: String) -> VHDError {
            VHDError(kind, file: file, offset: offset + UInt64(at), field: field, detail)
        }
        guard b.count == VHDLimits.footerBytes else {
            throw fail(.truncated, 0, "footer", "need 512 bytes, have \(b.count)")
        }
        guard b.slice(0, 8) == cookie else {
            throw fail(.badCookie, 0, "footer.cookie", "expected \"conectix\"")
        }
        let stored = b.be32(64)
        let computed = vhdChecksum(b, skipping: checksumField)
        if stored != computed && !hiddenQuirkMatches(b, stored: stored) {
            throw fail(.badChecksum, 64, "footer.checksum",
                       "stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))")
        }
        guard let type = VHDDiskType(rawValue: b.be32(60)) else {
            throw fail(.badField, 60, "footer.diskType", "unknown or unsupported disk type \(b.be32(60))")
        }
        let version = b.be32(12)
        guard version >> 16 == 1 else {
            throw fail(.unsupported, 12, "footer.fileFormatVersion", "version 0x\(String(version, radix: 16))")
        }
        let creator = b.be32(28)
        if creator == creatorTap && b.be32(32) == 0x0000_0001 {
            throw fail(.unsupported, 32, "footer.creatorVersion", "tap 0.1 images (little-endian bitmaps)")
        }
        var f = Footer(diskType: type, size: b.be64(48), uuid: VHDUUID(bytes: b.slice(68, 16)), timestamp: b.be32(24))
        f.features = b.be32(8)
        f.fileFormatVersion = version
        f.dataOffset = b.be64(16)
        f.creatorApplication = creator
        f.creatorVersion = b.be32(32)
        f.creatorHostOS = b.be32(36)
        f.originalSize = b.be64(40)
        f.geometry = Geometry(encoded: b.be32(56))
        f.savedState = b[84]
        f.hidden = b[85]
        f.reserved = b.slice(86, 426)
        if type == .fixed {
            guard f.dataOffset == noDataOffset else {
                throw fail(.badField, 16, "footer.dataOffset", "a fixed disk has no data offset, found \(f.dataOffset)")
            }
        } else {
            guard f.dataOffset % VHDLimits.sectorBytes == 0, f.dataOffset >= VHDLimits.sectorBytes,
                  f.dataOffset <= UInt64(UInt32.max) else {
                throw fail(.badField, 16, "footer.dataOffset", "dynamic header offset \(f.dataOffset) is not a sane sector offset")
            }
        }
        guard f.currentSize > 0, f.currentSize <= VHDLimits.sizeBytesMax else {
            throw fail(.sizeOutOfRange, 48, "footer.currentSize",
                       "\(f.currentSize) bytes; the limit is \(VHDLimits.sizeBytesMax)")
        }
        guard f.currentSize % VHDLimits.sectorBytes == 0 else {
            throw fail(.badField, 48, "footer.currentSize", "\(f.currentSize) is not a whole number of sectors")
        }
        return f
    }

    /// Early td-util set `hidden` without updating the checksum (tap 0.1 and 1.1).
    static func hiddenQuirkMatches(_ b: [UInt8], stored: UInt32) -> Bool {
        let version = b.be32(32)
        guard b.be32(28) == creatorTap, version == 0x0000_0001 || version == 0x0001_0001, b[85] != 0 else { return false }
        var copy = b
        copy[85] = 0
        return vhdChecksum(copy, skipping: checksumField) == stored
    }

    /// This image's creator writes a batmap (tap ≥ 1.2; 1.1 must be probed by cookie).
    var hasBatmap: Bool { creatorApplication == Footer.creatorTap && creatorVersion >= 0x0001_0002 }
    var mayHaveBatmap: Bool { creatorApplication == Footer.creatorTap && creatorVersion == 0x0001_0001 }

    /// The field rules `vhd-util check` applies, as check findings.
    func problems(file: String, offset: UInt64, now: Int64) -> CheckReport {
        var r = CheckReport()
        func bad(_ at: UInt64, _ field: String, _ detail: String) { r.add(.corruption, file, offset + at, field, detail) }
        if features & Footer.featureReserved == 0 { bad(8, "footer.features", "the reserved feature bit 0x2 is clear") }
        if features & ~(Footer.featureReserved | Footer.featureTemporary) != 0 {
            bad(8, "footer.features", "unknown feature bits 0x\(String(features, radix: 16))")
        }
        if fileFormatVersion != VHDLimits.fileFormatVersion {
            bad(12, "footer.fileFormatVersion", "0x\(String(fileFormatVersion, radix: 16))")
        }
        let vhdNow = now - VHDLimits.epochUnixSeconds
        if Int64(timestamp) > vhdNow + VHDLimits.timestampFutureSlackSeconds {
            bad(24, "footer.timestamp", "\(timestamp) lies in the future")
        }
        // 65535/16/255 is qemu's "use currentSize" marker (force_size), not a real geometry.
        if geometry.encoded > Geometry(forSize: currentSize).encoded && geometry != Geometry.sizeMarker {
            bad(56, "footer.geometry", "\(geometry) is larger than the size allows (\(Geometry(forSize: currentSize)))")
        }
        if uuid.isNull { bad(68, "footer.uuid", "null UUID") }
        if savedState > 1 { bad(84, "footer.savedState", "\(savedState) is not 0 or 1") }
        if hidden > 1 { bad(85, "footer.hidden", "\(hidden) is not 0 or 1") }
        if !reserved.allSatisfy({ $0 == 0 }) { bad(86, "footer.reserved", "reserved bytes are not zero") }
        return r
    }
}
