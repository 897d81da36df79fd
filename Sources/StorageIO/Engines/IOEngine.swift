import Glibc

/// The ways a local file can be driven, fastest first.
public enum IOEngine: String, Sendable, CaseIterable, CustomStringConvertible {
    /// io_uring on the loop's ring: batched submission, registered buffers, O_DIRECT.
    case uring
    /// Linux native AIO (libaio), completions through an eventfd on the loop.
    case aio
    /// pread/pwrite on a pool of worker threads, completions through an eventfd.
    case threads

    public var description: String { rawValue }

    /// The environment variable that forces an engine for tests and benchmarks.
    public static let environmentKey = "SM_IO_ENGINE"

    /// The engine forced by `SM_IO_ENGINE`, nil when unset or "auto".
    public static func fromEnvironment() throws -> IOEngine? {
        try override(getenv(environmentKey).map { String(cString: $0) })
    }

    /// Parses an override value: nil, "" and "auto" mean automatic choice.
    public static func override(_ value: String?) throws -> IOEngine? {
        guard let value, !value.isEmpty, value != "auto" else { return nil }
        guard let engine = IOEngine(rawValue: value) else {
            throw BlockIOError.engineUnavailable(
                engine: value, reason: "\(environmentKey) must be one of auto, uring, aio, threads")
        }
        return engine
    }
}
