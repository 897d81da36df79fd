/// A VHD structure that is damaged, unsupported or inconsistent, naming file, offset and field.
///
/// Corruption has its own error type (operating errors stay `BlockIOError`), so callers can
/// tell "the disk failed" from "the image is wrong" and mark an image read-only on the latter.
public struct VHDError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The file ends before a structure it must hold.
        case truncated
        case badCookie
        case badChecksum
        /// A field holds a value the format forbids.
        case badField
        /// A value the format allows but this driver does not handle.
        case unsupported
        case sizeOutOfRange
        case batEntryPastEnd
        case batEntryInMetadata
        case blocksOverlap
        case badLocator
        case parentMissing
        case parentMismatch
        case parentLoop
        case chainTooDeep
        /// The file would need a block start beyond the 2 TiB reach of u32 BAT entries.
        case hostSpaceExhausted
        /// The image is open read-only (or was marked read-only after corruption).
        case readOnly
    }

    public let kind: Kind
    public let file: String
    public let offset: UInt64
    public let field: String
    public let detail: String

    public init(_ kind: Kind, file: String, offset: UInt64, field: String, _ detail: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.field = field
        self.detail = detail
    }

    /// True for damage in the image itself (as opposed to limits and refusals).
    public var isCorruption: Bool {
        switch kind {
        case .truncated, .badCookie, .badChecksum, .badField, .batEntryPastEnd, .batEntryInMetadata,
             .blocksOverlap, .badLocator, .parentMismatch, .parentLoop:
            true
        case .unsupported, .sizeOutOfRange, .parentMissing, .chainTooDeep, .hostSpaceExhausted, .readOnly:
            false
        }
    }

    public var description: String { "\(file): \(kind.rawValue) at offset \(offset), field \(field): \(detail)" }
}
