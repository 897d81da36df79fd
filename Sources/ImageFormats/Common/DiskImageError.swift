/// A request the image cannot take: outside the disk, not whole sectors, or a write to a
/// read-only image. Programmer-facing, but thrown so a front-end can map it to EINVAL/EPERM.
public enum DiskImageError: Error, Equatable, Sendable, CustomStringConvertible {
    case unaligned(image: String, offset: UInt64, length: UInt64)
    case outOfRange(image: String, offset: UInt64, length: UInt64, size: UInt64)
    case readOnly(image: String)

    public var description: String {
        switch self {
        case let .unaligned(image, offset, length):
            "\(image): request of \(length) bytes at \(offset) is not whole 512-byte sectors"
        case let .outOfRange(image, offset, length, size):
            "\(image): request of \(length) bytes at \(offset) reaches past the end of the disk (\(size) bytes)"
        case let .readOnly(image):
            "\(image): the image is read-only"
        }
    }
}
