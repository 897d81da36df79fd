import Glibc

/// A monotonic point in time by which a call must be done.
struct Deadline {
    private let end: Double

    init(seconds: Double) { end = Self.now() + seconds }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Milliseconds left for poll(2); 0 once passed.
    var remainingMilliseconds: Int32 { Int32(max(0, min(Double(Int32.max), (end - Self.now()) * 1000).rounded(.up))) }
}

/// What went wrong on the socket, before the transport names the endpoint and method.
enum SocketFailure: Error {
    case connect(errno: Int32)
    case timedOut
    case io(errno: Int32)
}

/// A connected, non-blocking stream socket whose every wait is bounded by a deadline.
final class StreamSocket {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    static func connect(_ address: SocketAddress, by deadline: Deadline) throws(SocketFailure) -> StreamSocket {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .connect(errno: errno) }
        let s = StreamSocket(fd: fd)
        if address.withSockaddr({ Glibc.connect(fd, $0, $1) }) == 0 { return s }
        guard errno == EINPROGRESS else { throw .connect(errno: errno) }
        try s.wait(for: Int16(POLLOUT), by: deadline)
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { throw .connect(errno: errno) }
        guard error == 0 else { throw .connect(errno: error) }
        return s
    }

    func send(_ bytes: [UInt8], by deadline: Deadline) throws(SocketFailure) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n; continue }
            guard n < 0, errno == EAGAIN || errno == EINTR else { throw .io(errno: n == 0 ? EPIPE : errno) }
            try wait(for: Int16(POLLOUT), by: deadline)
        }
    }

    /// The next bytes received; empty at end of stream.
    func receive(by deadline: Deadline) throws(SocketFailure) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 { return Array(buffer[..<n]) }
            guard errno == EAGAIN || errno == EINTR else { throw .io(errno: errno) }
            try wait(for: Int16(POLLIN), by: deadline)
        }
    }

    private func wait(for events: Int16, by deadline: Deadline) throws(SocketFailure) {
        while true {
            let left = deadline.remainingMilliseconds
            guard left > 0 else { throw .timedOut }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&p, 1, left)
            if r > 0 { return }
            if r < 0 && errno != EINTR { throw .io(errno: errno) }
        }
    }
}
