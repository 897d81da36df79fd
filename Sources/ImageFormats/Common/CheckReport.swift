/// The findings of `check`: every problem with the file, offset and field it concerns.
public struct CheckReport: Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        /// The image is damaged; it may be opened read-only at most.
        case corruption
        /// Expected after a crash and fixed safely by `repair` (e.g. a stale trailing footer).
        case repairable
    }

    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public let severity: Severity
        public let file: String
        public let offset: UInt64
        public let field: String
        public let detail: String

        public var description: String { "\(severity.rawValue): \(file) @\(offset) \(field): \(detail)" }
    }

    public var problems: [Problem] = []

    public init() {}

    /// No corruption (repairable findings, like a stale trailing footer, are allowed).
    public var isClean: Bool { !problems.contains { $0.severity == .corruption } }
    /// Nothing at all to report.
    public var isPerfect: Bool { problems.isEmpty }

    mutating func add(_ severity: Severity, _ file: String, _ offset: UInt64, _ field: String, _ detail: String) {
        problems.append(Problem(severity: severity, file: file, offset: offset, field: field, detail: detail))
    }

    mutating func add(_ error: VHDError) {
        add(.corruption, error.file, error.offset, error.field, error.detail)
    }

    mutating func merge(_ other: CheckReport) { problems += other.problems }

    public var description: String {
        problems.isEmpty ? "clean" : problems.map(\.description).joined(separator: "\n")
    }
}
