import CNBD
import Glibc
import StorageIO

/// A BlockIO over an NBD export, through libnbd's asynchronous API driven by our event loop:
/// the socket is watched on the loop, and commands complete out of order as replies arrive.
/// It lets the same job run against our daemon, qemu-nbd or anything else that speaks NBD.
public final class NBDClientStore: BlockIO {
    public let loop: EventLoop
    public let name: String
    public let capabilities: BlockIOCapabilities
    public let size: UInt64
    public private(set) var isClosed = false

    private var handle: OpaquePointer?
    private var readWatch: FDWatch?
    private var writeWatch: FDWatch?
    private let fd: Int32
    /// Preallocated command slots: libnbd's callback gets a slot's address, never an allocation.
    private let slots: UnsafeMutablePointer<CommandSlot>
    private var freeSlots: [Int32]
    private var waiting: [IORequest] = []

    struct CommandSlot {
        unowned(unsafe) var store: NBDClientStore?
        unowned(unsafe) var request: IORequest?
        var index: Int32
    }

    /// Connects to `uri` (`nbd://`, `nbd+unix:///export?socket=PATH`) synchronously, then
    /// serves requests asynchronously on `loop`.
    public init(uri: String, on loop: EventLoop, inflightMax: Int = 256) throws {
        guard let handle = nbd_create() else { throw NBDClientStore.failure(uri) }
        if nbd_connect_uri(handle, uri) != 0 {
            let error = NBDClientStore.failure(uri)
            nbd_close(handle)
            throw error
        }
        let size = nbd_get_size(handle)
        guard size >= 0 else {
            let error = NBDClientStore.failure(uri)
            nbd_close(handle)
            throw error
        }
        self.handle = handle
        self.loop = loop
        self.name = uri
        self.size = UInt64(size)
        let minimum = nbd_get_block_size(handle, Int32(LIBNBD_SIZE_MINIMUM))
        let alignment = minimum > 1 ? Int(minimum) : 1
        self.capabilities = BlockIOCapabilities(
            alignment: alignment, transferBytesMax: 32 << 20,
            canTrim: nbd_can_trim(handle) == 1, canFUA: nbd_can_fua(handle) == 1,
            isReadOnly: nbd_is_read_only(handle) == 1)
        self.fd = nbd_aio_get_fd(handle)
        self.slots = .allocate(capacity: inflightMax)
        self.freeSlots = Array((0..<Int32(inflightMax)).reversed())
        for i in 0..<inflightMax { (slots + i).initialize(to: CommandSlot(store: nil, request: nil, index: Int32(i))) }
        waiting.reserveCapacity(inflightMax)
        self.readWatch = loop.watch(fd: fd, events: .readable) { [unowned self] _ in
            guard let handle = self.handle else { return }
            _ = nbd_aio_notify_read(handle)
            self.updateWriteInterest()
        }
    }

    deinit {
        close()
        slots.deallocate()
    }

    private static func failure(_ uri: String) -> BlockIOError {
        let message = nbd_get_error().map { String(cString: $0) } ?? "unknown libnbd error"
        let code = nbd_get_errno()
        return .open(path: uri, errno: code == 0 ? EIO : code, detail: message)
    }

    public func submit(_ request: IORequest) {
        request.begin()
        if let failure = validate(request) {
            loop.post(request, result: -failure.errno, failure: failure)
            return
        }
        guard let slot = freeSlots.popLast() else {
            waiting.append(request)
            return
        }
        issue(request, slot: slot)
    }

    private func issue(_ request: IORequest, slot index: Int32) {
        guard let handle else { return }
        let slot = slots + Int(index)
        slot.pointee.store = self
        slot.pointee.request = request
        let completion = nbd_completion_callback(callback: { userData, error in
            let slot = userData!.assumingMemoryBound(to: CommandSlot.self)
            slot.pointee.store!.completed(slot, error: error!.pointee)
            return 1
        }, user_data: UnsafeMutableRawPointer(slot), free: nil)
        let fua = request.fua ? UInt32(LIBNBD_CMD_FLAG_FUA) : 0
        let cookie: Int64
        switch request.operation {
        case .read:
            cookie = nbd_aio_pread(handle, request.buffer, request.length, request.offset, completion, 0)
        case .write:
            cookie = nbd_aio_pwrite(handle, request.buffer, request.length, request.offset, completion, fua)
        case .flush:
            cookie = nbd_aio_flush(handle, completion, 0)
        case .discard:
            cookie = nbd_aio_trim(handle, UInt64(request.length), request.offset, completion, 0)
        }
        if cookie < 0 {
            slot.pointee.request = nil
            freeSlots.append(index)
            let code = nbd_get_errno()
            loop.post(request, result: -(code == 0 ? EIO : code),
                      failure: .io(store: name, operation: request.operation, offset: request.offset,
                                   length: UInt64(request.length), errno: code == 0 ? EIO : code))
            return
        }
        loop.externalPending += 1
        updateWriteInterest()
    }

    /// libnbd calls this from inside notify_read/notify_write, on the loop thread.
    private func completed(_ slot: UnsafeMutablePointer<CommandSlot>, error: Int32) {
        let request = slot.pointee.request!
        slot.pointee.request = nil
        freeSlots.append(slot.pointee.index)
        loop.externalPending -= 1
        // Defer the handler: libnbd's state machine is mid-call and must not be re-entered.
        if error != 0 {
            loop.post(request, result: -error, failure: .io(store: name, operation: request.operation,
                                                             offset: request.offset, length: UInt64(request.length),
                                                             errno: error))
        } else {
            loop.post(request, result: Int32(request.length), failure: nil)
        }
        if !waiting.isEmpty, let next = freeSlots.popLast() {
            issue(waiting.removeFirst(), slot: next)
        }
    }

    /// Watches for writability only while libnbd has output queued (a full socket buffer).
    private func updateWriteInterest() {
        guard let handle else { return }
        let wantsWrite = nbd_aio_get_direction(handle) & UInt32(LIBNBD_AIO_DIRECTION_WRITE) != 0
        if wantsWrite && writeWatch == nil {
            writeWatch = loop.watch(fd: fd, events: .writable) { [unowned self] _ in
                guard let handle = self.handle else { return }
                _ = nbd_aio_notify_write(handle)
                if nbd_aio_get_direction(handle) & UInt32(LIBNBD_AIO_DIRECTION_WRITE) == 0 {
                    self.writeWatch?.cancel()
                    self.writeWatch = nil
                }
            }
        }
    }

    public func resize(to newSize: UInt64) throws {
        throw BlockIOError.unsupported(store: name, what: "resizing an NBD export")
    }

    public func close() {
        guard !isClosed, let handle else { return }
        isClosed = true
        readWatch?.cancel()
        writeWatch?.cancel()
        readWatch = nil
        writeWatch = nil
        _ = nbd_shutdown(handle, 0)
        nbd_close(handle)
        self.handle = nil
    }
}
