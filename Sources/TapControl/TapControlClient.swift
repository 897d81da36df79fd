import DataPath
import Foundation
import Glibc
import StorageIO

/// Why talking to a daemon's control socket failed.
public enum TapControlError: Error, Equatable, CustomStringConvertible {
    /// Nothing listens there (no daemon, or it died): connect's errno.
    case unreachable(socket: String, errno: Int32)
    /// The daemon did not answer within the timeout.
    case timedOut(socket: String, seconds: Double)
    /// The connection broke, or the reply was not one the protocol allows.
    case badReply(socket: String, detail: String)
    /// The daemon answered with an error.
    case refused(socket: String, ControlFailure)

    public var description: String {
        switch self {
        case let .unreachable(socket, code): "\(socket): cannot connect: \(String(cString: strerror(code)))"
        case let .timedOut(socket, seconds): "\(socket): no reply within \(seconds) s"
        case let .badReply(socket, detail): "\(socket): bad reply: \(detail)"
        case let .refused(socket, failure): "\(socket): the daemon refused: \(failure)"
        }
    }
}

/// A client of one daemon's control socket: one connection per request, a blocking exchange
/// of one line each way with a deadline. Works from any thread.
public struct TapControlClient: Sendable {
    public let socketPath: String
    /// How long a reply may take; a pause waits for the requests in flight to finish.
    public var timeoutSeconds: Double

    public static let defaultTimeoutSeconds = 30.0

    public init(socketPath: String, timeoutSeconds: Double = defaultTimeoutSeconds) {
        self.socketPath = socketPath
        self.timeoutSeconds = timeoutSeconds
    }

    public func list() throws -> [ControlExportInfo] { try send(ControlRequest(.list)).exports ?? [] }
    public func stats() throws -> [ControlExportStats] { try send(ControlRequest(.stats)).stats ?? [] }
    public func pause() throws { _ = try send(ControlRequest(.pause)) }
    public func unpause(path: String? = nil) throws { _ = try send(ControlRequest(.unpause, path: path)) }
    public func shutdown() throws { _ = try send(ControlRequest(.shutdown)) }
    /// Starts the live leaf-merge of the served leaf into its parent at `parentPath`.
    public func merge(parentPath: String) throws { _ = try send(ControlRequest(.merge, path: parentPath)) }
    public func abortMerge() throws { _ = try send(ControlRequest(.mergeAbort)) }

    /// Sends `request`; the daemon's reply, or `refused` when it answered with an error.
    @discardableResult
    public func send(_ request: ControlRequest) throws -> ControlReply {
        let reply = try exchange(ControlCodec.encode(request))
        if !reply.ok {
            throw TapControlError.refused(socket: socketPath, reply.error ?? ControlFailure(.badRequest, "no reason given"))
        }
        return reply
    }

    /// Sends raw bytes (tests send malformed lines this way) and decodes the reply line.
    public func exchange(_ line: [UInt8]) throws -> ControlReply {
        let fd = try connect()
        defer { close(fd) }
        var sent = 0
        while sent < line.count {
            let n = line.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ioFailure("send") }
            sent += n
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !reply.contains(UInt8(ascii: "\n")) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n == 0 { throw TapControlError.badReply(socket: socketPath, detail: "the daemon closed the connection") }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioFailure("recv")
            }
            reply += chunk.prefix(n)
        }
        let line = reply.prefix { $0 != UInt8(ascii: "\n") }
        do {
            return try ControlCodec.decodeReply(line)
        } catch {
            throw TapControlError.badReply(socket: socketPath, detail: "\(String(decoding: line.prefix(200), as: UTF8.self)): \(error)")
        }
    }

    private func connect() throws -> Int32 {
        guard socketPath.utf8.count <= DataPathLimits.unixPathBytesMax else {
            throw TapControlError.unreachable(socket: socketPath, errno: ENAMETOOLONG)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TapControlError.unreachable(socket: socketPath, errno: errno) }
        var timeout = timeval(tv_sec: Int(timeoutSeconds), tv_usec: Int((timeoutSeconds - timeoutSeconds.rounded(.down)) * 1e6))
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            _ = setsockopt(fd, SOL_SOCKET, option, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        let rc = withUnixSocketAddress(socketPath) { Glibc.connect(fd, $0, $1) }
        guard rc == 0 else {
            let code = errno
            close(fd)
            throw TapControlError.unreachable(socket: socketPath, errno: code)
        }
        return fd
    }

    private func ioFailure(_ call: String) -> TapControlError {
        let code = errno
        if code == EAGAIN || code == EWOULDBLOCK { return .timedOut(socket: socketPath, seconds: timeoutSeconds) }
        return .badReply(socket: socketPath, detail: "\(call): \(String(cString: strerror(code)))")
    }
}
