#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The daemon's control protocol: one JSON object per line each way, one reply per request,
/// in order. Shared by the daemon (`ControlServer`) and its clients (TapControl).
///
///     {"command":"list"}                        → {"ok":true,"exports":[...]}
///     {"command":"stats"}                       → {"ok":true,"stats":[...]}
///     {"command":"pause"}                       → {"ok":true,"state":"paused"}    (after the drain)
///     {"command":"unpause","path":"/sr/v.vhd"}  → {"ok":true,"state":"serving"}
///     {"command":"shutdown"}                    → {"ok":true,"state":"stopping"}
///     {"command":"merge","path":"/sr/p.vhd"}    → {"ok":true,...}  (live leaf-merge into the parent; `list` shows it)
///     {"command":"merge-abort"}                 → {"ok":true,...}
///     anything wrong                            → {"ok":false,"error":{"kind":"...","message":"..."}}
public enum ControlCommand: String, Codable, Sendable, CaseIterable {
    case list, stats, pause, unpause, shutdown
    case merge
    case mergeAbort = "merge-abort"

    /// The commands that take a path (and, with several exports, an export name).
    var takesPath: Bool { self == .unpause || self == .merge }
}

public struct ControlRequest: Codable, Sendable, Equatable {
    public var command: ControlCommand
    /// unpause: the image to serve from now on (default: the one served before the pause);
    /// merge: the parent image to merge the leaf into.
    public var path: String?
    /// unpause with a path, on a daemon serving several exports: which one.
    public var export: String?

    public init(_ command: ControlCommand, path: String? = nil, export: String? = nil) {
        self.command = command
        self.path = path
        self.export = export
    }
}

/// Why the daemon refused or failed a request.
public struct ControlFailure: Codable, Sendable, Equatable, Error, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        /// Not one JSON object with a known command, or a field out of place.
        case badRequest
        /// unpause of a daemon that is not paused.
        case notPaused
        /// unpause while a pause is still draining requests.
        case pauseInProgress
        /// Flushing or closing the image at pause failed (the daemon stays paused).
        case closeFailed
        /// Opening the image at unpause failed (the daemon stays paused).
        case reopenFailed
        /// The reopened image cannot replace the old one under connected clients.
        case incompatibleImage
        /// The daemon is shutting down.
        case stopping
        /// A live leaf-merge cannot start (not a leaf over a parent, one is running, the
        /// parent does not match).
        case mergeRefused
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// One export as `list` reports it.
public struct ControlExportInfo: Codable, Sendable, Equatable {
    public var name: String
    /// The image file served (or last served, while paused).
    public var path: String
    public var readOnly: Bool
    public var size: UInt64
    /// Connections in transmission on this export.
    public var connections: Int
    public var paused: Bool
    /// serving, draining or paused.
    public var state: String
    /// The current or last live leaf-merge of this export.
    public var merge: ControlMergeInfo?
}

/// A live leaf-merge as `list` reports it (see `LeafMergeStatus`).
public struct ControlMergeInfo: Codable, Sendable, Equatable {
    /// quiescing, copying, mirroring (converged), complete (closed after converging), failed.
    public var phase: String
    public var parentPath: String
    public var blocksTotal: Int
    public var blocksCopied: Int
    public var bytesCopied: UInt64
    public var writesMirrored: UInt64
    public var failure: String?

    public init(_ s: LeafMergeStatus) {
        phase = s.phase.rawValue
        parentPath = s.parentPath
        blocksTotal = s.blocksTotal
        blocksCopied = s.blocksCopied
        bytesCopied = s.bytesCopied
        writesMirrored = s.writesMirrored
        failure = s.failure
    }
}

/// Percentiles of request latency in microseconds (bucket upper bounds, at most 12.5% high).
public struct ControlPercentiles: Codable, Sendable, Equatable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p99_9: Double

    enum CodingKeys: String, CodingKey {
        case p50, p90, p99
        case p99_9 = "p99.9"
    }
}

/// Counters of one NBD command on one export. `bytes` is the requests' lengths (for trim and
/// write-zeroes the range covered, not data moved).
public struct ControlOpStats: Codable, Sendable, Equatable {
    public var op: String
    public var requests: UInt64
    public var bytes: UInt64
    public var errors: UInt64
    /// Nil when no request of this kind reached the backend (all were refused).
    public var latencyMicroseconds: ControlPercentiles?
}

public struct ControlExportStats: Codable, Sendable, Equatable {
    public var name: String
    public var inflight: Int
    public var connections: Int
    public var pauses: Int
    public var ops: [ControlOpStats]
}

public struct ControlReply: Codable, Sendable, Equatable {
    public var ok: Bool
    public var error: ControlFailure?
    public var state: String?
    public var exports: [ControlExportInfo]?
    public var stats: [ControlExportStats]?

    public init(ok: Bool = true, error: ControlFailure? = nil, state: String? = nil,
                exports: [ControlExportInfo]? = nil, stats: [ControlExportStats]? = nil) {
        self.ok = ok
        self.error = error
        self.state = state
        self.exports = exports
        self.stats = stats
    }

    public static func failure(_ f: ControlFailure) -> ControlReply { ControlReply(ok: false, error: f) }
}

/// Encoding and decoding of request and reply lines.
public enum ControlCodec {
    /// A request line (without its newline), or the failure to answer with.
    public static func decodeRequest(_ line: some Collection<UInt8>) -> Result<ControlRequest, ControlFailure> {
        let data = Data(line)
        // The command first, so an unknown one is named as such rather than as a JSON error.
        guard let probe = try? JSONDecoder().decode(CommandProbe.self, from: data) else {
            return .failure(ControlFailure(.badRequest, "expected one JSON object with a \"command\" string, got \(preview(line))"))
        }
        guard ControlCommand(rawValue: probe.command) != nil else {
            let known = ControlCommand.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(ControlFailure(.badRequest, "unknown command \"\(probe.command)\" (known: \(known))"))
        }
        do {
            let request = try JSONDecoder().decode(ControlRequest.self, from: data)
            if !request.command.takesPath && (request.path != nil || request.export != nil) {
                return .failure(ControlFailure(.badRequest, "\(request.command.rawValue) takes no path or export"))
            }
            if let path = request.path, path.isEmpty || path.utf8.contains(0) {
                return .failure(ControlFailure(.badRequest, "\(request.command.rawValue): the path is empty or holds a NUL byte"))
            }
            if request.command == .merge && request.path == nil {
                return .failure(ControlFailure(.badRequest, "merge: the parent's path is required"))
            }
            return .success(request)
        } catch {
            return .failure(ControlFailure(.badRequest, "\(probe.command): a field has the wrong type (\(error))"))
        }
    }

    public static func encode(_ request: ControlRequest) -> [UInt8] { line(request) }
    public static func encode(_ reply: ControlReply) -> [UInt8] { line(reply) }

    public static func decodeReply(_ line: some Collection<UInt8>) throws -> ControlReply {
        try JSONDecoder().decode(ControlReply.self, from: Data(line))
    }

    private static func line(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own plain structs cannot fail.
        return Array(try! encoder.encode(value)) + [UInt8(ascii: "\n")]
    }

    private struct CommandProbe: Decodable { var command: String }

    /// The start of a bad line, printable, for the error message.
    private static func preview(_ line: some Collection<UInt8>) -> String {
        let text = String(decoding: line.prefix(80), as: UTF8.self)
        return "\"" + String(text.unicodeScalars.map { $0.value < 0x20 ? "?" : Character($0) }) + (line.count > 80 ? "...\"" : "\"")
    }
}
