import CNFS
import Glibc
import Logging
import StorageIO

/// A file on an NFS server as a BlockIO, through libnfs's asynchronous calls on the
/// connection's event loop: many requests in flight, none blocking the loop.
///
/// A request is cut into pieces of the server's rsize/wsize (for NFSv4 writes, at most
/// `NFSLimits.v4WriteBytesMax`: libnfs 4.0 cannot encode more), issued one after the other
/// from a preallocated slot, so the hot path allocates nothing of ours. A piece that fails
/// for a transport reason is retried within the soft-mount bound (`NFSSoftMount`); an
/// error the server returns fails the request. Flush is an NFS COMMIT; a FUA write is
/// followed by one before it completes. Completions are posted to the loop, never run
/// from inside libnfs.
public final class NFSFile: BlockIO {
    public let loop: EventLoop
    public let name: String
    public let capabilities: BlockIOCapabilities
    public private(set) var size: UInt64
    public private(set) var isClosed = false

    let connection: NFSConnection
    let path: String
    private var handle: OpaquePointer?
    private let slots: UnsafeMutablePointer<Slot>
    private let slotCount: Int
    private var freeSlots: [Int32]
    private var waiting: [IORequest] = []
    private var waitingHead = 0
    private var retrying: [Int32] = []
    private var inflight = 0
    /// Holds the store alive while libnfs has requests of it: their callbacks use its slots.
    private var keepAlive: NFSFile?
    private var lastTransportError = ""

    struct Slot {
        unowned(unsafe) var file: NFSFile?
        /// Strong: while in flight the store owns the request (as every engine does); its
        /// client may already have dropped it, e.g. a chain's child request.
        var request: IORequest?
        var index: Int32
        /// Bytes of the request already moved.
        var done = 0
        /// The data is written; its COMMIT (FUA) is in flight.
        var committing = false
        /// Monotonic time past which a transport failure fails the request.
        var deadline: UInt64 = 0
        var backoff: UInt64 = 0
        var retryAt: UInt64 = 0
        /// libnfs holds a call of this slot: exactly one callback is due.
        var awaitingReply = false
    }

    init(connection: NFSConnection, path: String, handle: OpaquePointer, size: UInt64, readOnly: Bool, on loop: EventLoop) {
        self.connection = connection
        self.path = path
        self.handle = handle
        self.size = size
        self.loop = loop
        self.name = connection.url(path)
        self.capabilities = BlockIOCapabilities(alignment: 1, transferBytesMax: NFSLimits.transferBytesMax,
                                                canTrim: false, canFUA: true, isReadOnly: readOnly)
        slotCount = NFSLimits.inflightCountMax
        slots = .allocate(capacity: slotCount)
        for i in 0..<slotCount { (slots + i).initialize(to: Slot(index: Int32(i))) }
        freeSlots = Array((0..<Int32(slotCount)).reversed())
        waiting.reserveCapacity(slotCount)
        connection.register(self)
    }

    deinit {
        close()
        slots.deinitialize(count: slotCount)
        slots.deallocate()
    }

    // MARK: BlockIO

    public func submit(_ request: IORequest) {
        request.begin()
        if let failure = validate(request) {
            loop.post(request, result: -failure.errno, failure: failure)
            return
        }
        guard let index = freeSlots.popLast() else {
            waiting.append(request)
            return
        }
        start(request, slot: index)
    }

    public func resize(to newSize: UInt64) throws {
        guard !isClosed, let handle else { throw BlockIOError.closed(store: name, operation: .write) }
        guard !capabilities.isReadOnly else { throw BlockIOError.readOnly(store: name, operation: .write) }
        do {
            try connection.perform("truncate", path) { nfs_ftruncate($0, handle, newSize) }
        } catch let e as NFSError {
            throw BlockIOError.io(store: name, operation: .write, offset: newSize, length: 0, errno: e.errno)
        }
        size = newSize
    }

    /// Requests not yet started fail with `.closed`; those in flight finish first, then the
    /// handle is released.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        while let request = nextWaiting() {
            loop.post(request, result: -EBADF, failure: .closed(store: name, operation: request.operation))
        }
        if inflight == 0 { release() }
    }

    private func release() {
        guard let handle else { return }
        self.handle = nil
        connection.closeHandle(handle)
        connection.unregister(self)
    }

    // MARK: Pieces

    private func start(_ request: IORequest, slot index: Int32) {
        let slot = slots + Int(index)
        slot.pointee.file = self
        slot.pointee.request = request
        slot.pointee.done = 0
        slot.pointee.committing = false
        slot.pointee.backoff = 0
        slot.pointee.retryAt = 0
        slot.pointee.deadline = monotonicNanoseconds() + connection.server.softMount.deadlineNanoseconds
        inflight += 1
        if inflight == 1 { keepAlive = self }
        loop.externalPending += 1
        connection.pendingChanged(by: 1)
        if request.operation != .flush && request.length == 0 && !request.fua {
            complete(slot, errno: 0)
            return
        }
        issue(slot)
    }

    private static let callback: nfs_cb = { status, _, data, privateData in
        let slot = privateData!.assumingMemoryBound(to: Slot.self)
        slot.pointee.file!.pieceCompleted(slot, status: status, data: data)
    }

    private func issue(_ slot: UnsafeMutablePointer<Slot>) {
        guard let handle else { complete(slot, errno: EBADF); return }
        let request = slot.pointee.request!
        let context = connection.context
        let done = slot.pointee.done
        let offset = request.offset + UInt64(done)
        let remaining = request.length - done
        let rc: Int32
        if request.operation == .flush || slot.pointee.committing || remaining == 0 {
            rc = nfs_fsync_async(context, handle, Self.callback, slot)
            if remaining == 0 { slot.pointee.committing = true }
        } else if request.operation == .read {
            rc = nfs_pread_async(context, handle, offset, UInt64(min(remaining, connection.readPieceMax)), Self.callback, slot)
        } else {
            rc = nfs_pwrite_async(context, handle, offset, UInt64(min(remaining, connection.writePieceMax)),
                                  request.buffer! + done, Self.callback, slot)
        }
        guard rc == 0 else {
            // Not even queued (no memory, a broken context): a transport failure, retried.
            scheduleRetry(slot, detail: NFSConnection.errorText(context))
            return
        }
        slot.pointee.awaitingReply = true
        connection.queued()
    }

    /// libnfs calls this from inside nfs_service, on the loop thread.
    private func pieceCompleted(_ slot: UnsafeMutablePointer<Slot>, status: Int32, data: UnsafeMutableRawPointer?) {
        guard slot.pointee.awaitingReply else {
            NFSConnection.logger.error("\(name): a reply for slot \(slot.pointee.index), which awaits none, ignored")
            return
        }
        slot.pointee.awaitingReply = false
        let request = slot.pointee.request!
        if status < 0 {
            let detail = data.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? ""
            if NFSSoftMount.isTransportFailure(status) {
                scheduleRetry(slot, detail: detail)
            } else {
                complete(slot, errno: -status)
            }
            return
        }
        slot.pointee.backoff = 0
        if request.operation == .flush || slot.pointee.committing {
            complete(slot, errno: 0)
            return
        }
        let done = slot.pointee.done
        if request.operation == .read {
            let n = min(Int(status), request.length - done)
            if n > 0, let data {
                (request.buffer! + done).copyMemory(from: data, byteCount: n)
                slot.pointee.done += n
            } else {
                // End of file inside the store's size (a sparse tail): zeros.
                (request.buffer! + done).initializeMemory(as: UInt8.self, repeating: 0, count: request.length - done)
                slot.pointee.done = request.length
            }
        } else {
            guard status > 0 else { complete(slot, errno: EIO); return }
            slot.pointee.done += Int(status)
        }
        if slot.pointee.done < request.length {
            issue(slot)
        } else if request.operation == .write && request.fua {
            slot.pointee.committing = true
            issue(slot)
        } else {
            complete(slot, errno: 0)
        }
    }

    private func scheduleRetry(_ slot: UnsafeMutablePointer<Slot>, detail: String) {
        lastTransportError = detail
        let now = monotonicNanoseconds()
        guard now < slot.pointee.deadline else {
            timedOut(slot)
            return
        }
        slot.pointee.backoff = NFSSoftMount.nextBackoff(slot.pointee.backoff)
        slot.pointee.retryAt = min(now + slot.pointee.backoff, slot.pointee.deadline)
        retrying.append(slot.pointee.index)
    }

    /// Called by the connection's tick: re-issues the pieces whose backoff has passed.
    func retryDue(now: UInt64) {
        guard !retrying.isEmpty else { return }
        let due = retrying.filter { slots[Int($0)].retryAt <= now }
        guard !due.isEmpty else { return }
        retrying.removeAll { slots[Int($0)].retryAt <= now }
        for index in due {
            let slot = slots + Int(index)
            slot.pointee.retryAt = 0
            if now >= slot.pointee.deadline { timedOut(slot) } else { issue(slot) }
        }
    }

    private func timedOut(_ slot: UnsafeMutablePointer<Slot>) {
        let soft = connection.server.softMount
        NFSConnection.logger.error("""
            \(name): no answer within \(NFSError.format(soft.deadlineSeconds)) s \
            (timeo=\(soft.timeoDeciseconds) retrans=\(soft.retrans)); last error: \(lastTransportError)
            """)
        complete(slot, errno: ETIMEDOUT)
    }

    private func complete(_ slot: UnsafeMutablePointer<Slot>, errno code: Int32) {
        let request = slot.pointee.request!
        slot.pointee.request = nil
        freeSlots.append(slot.pointee.index)
        inflight -= 1
        loop.externalPending -= 1
        connection.pendingChanged(by: -1)
        if code == 0 {
            loop.post(request, result: Int32(clamping: request.length), failure: nil)
        } else {
            let length = UInt64(request.length)
            let failure: BlockIOError = code == ENOSPC || code == EDQUOT
                ? .noSpace(store: name, operation: request.operation, offset: request.offset, length: length)
                : .io(store: name, operation: request.operation, offset: request.offset, length: length, errno: code)
            loop.post(request, result: -code, failure: failure)
        }
        if isClosed {
            if inflight == 0 { release() }
        } else if let next = freeSlots.last, let waiter = nextWaiting() {
            freeSlots.removeLast()
            start(waiter, slot: next)
        }
        if inflight == 0 { keepAlive = nil }  // last: this may release the store
    }

    private func nextWaiting() -> IORequest? {
        guard waitingHead < waiting.count else { return nil }
        let request = waiting[waitingHead]
        waitingHead += 1
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        }
        return request
    }
}

extension NFSConnection {
    /// Opens (or with `create`, creates or truncates) a file as a BlockIO on `loop`, which
    /// this connection is then bound to.
    public func openFile(_ path: String, readOnly: Bool, create: Bool = false, on loop: EventLoop) throws -> NFSFile {
        bind(to: loop)
        let handle: OpaquePointer
        do {
            if create {
                var h: OpaquePointer?
                try perform("create", path) { nfs_create($0, Self.mountPath(path), O_RDWR | O_CREAT | O_TRUNC, 0o644, &h) }
                guard let h else { throw NFSError.call(operation: "create", url: url(path), errno: EIO, detail: "no file handle") }
                handle = h
            } else {
                handle = try openHandle(path, flags: readOnly ? O_RDONLY : O_RDWR)
            }
        } catch let e as NFSError {
            throw BlockIOError.open(path: url(path), errno: e.errno, detail: e.description)
        }
        var st = nfs_stat_64()
        do {
            try perform("fstat", path) { nfs_fstat64($0, handle, &st) }
        } catch let e as NFSError {
            closeHandle(handle)
            throw BlockIOError.open(path: url(path), errno: e.errno, detail: e.description)
        }
        return NFSFile(connection: self, path: path, handle: handle, size: st.nfs_size, readOnly: readOnly && !create, on: loop)
    }
}
