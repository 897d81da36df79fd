import Glibc

/// Readiness events of a file descriptor, as poll(2) spells them.
public struct PollEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let readable = PollEvents(rawValue: UInt32(POLLIN))
    public static let writable = PollEvents(rawValue: UInt32(POLLOUT))
    public static let error = PollEvents(rawValue: UInt32(POLLERR))
    public static let hangup = PollEvents(rawValue: UInt32(POLLHUP))
}

/// A standing interest in an fd's readiness (a socket, an eventfd, libnfs's or libiscsi's fd).
///
/// On an io_uring loop it is a one-shot POLL_ADD re-armed after each event, so sockets and
/// disk completions arrive through the same ring; on an epoll loop it is a level-triggered
/// registration. The handler runs on the loop thread until `cancel()`.
public final class FDWatch: RingOperation {
    public let fd: Int32
    public var events: PollEvents
    let handler: (PollEvents) -> Void
    unowned let loop: EventLoop
    public internal(set) var isActive = true
    /// A POLL_ADD of this watch is in the ring.
    var isArmed = false

    init(fd: Int32, events: PollEvents, loop: EventLoop, handler: @escaping (PollEvents) -> Void) {
        self.fd = fd
        self.events = events
        self.loop = loop
        self.handler = handler
    }

    /// Stops the watch; its handler will not run again. Safe to call from the handler.
    public func cancel() {
        guard isActive else { return }
        isActive = false
        loop.cancelWatch(self)
    }

    override func ringCompleted(result: Int32, flags: UInt32) {
        isArmed = false
        guard isActive else { return }
        if result < 0 {
            // A failed poll (EBADF after the fd was closed under us) ends the watch.
            isActive = false
            loop.watchEnded(self)
            handler(.error)
            return
        }
        handler(PollEvents(rawValue: UInt32(result)))
        if isActive { loop.armWatch(self) }
    }
}
