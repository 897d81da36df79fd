import Glibc
import Logging
import NBD
import StorageIO

/// One client connection: negotiation, then requests read without blocking, served by the
/// export backend asynchronously and answered out of order, all on the server's loop.
///
/// Reading stops while every slot is busy and resumes as replies go out. Replies completed
/// in one loop turn leave in one sendmsg (a posted "kick" runs after the turn's completions).
/// EOF, DISC or a broken stream stop the reading; the connection then waits for its requests
/// in flight (their buffers belong to it), sends what it can, and closes.
final class NBDConnection {
    let id: Int
    let fd: Int32
    /// The server outlives its connections (they leave its table only when closed); unsafe
    /// unowned spares a reference check on every request.
    unowned(unsafe) let server: NBDServer
    let loop: EventLoop
    private let cache: BufferCache
    private let logger: Logger

    private var negotiation: NBDNegotiation
    private(set) var session: NBDSession?
    /// The session's fields that each request reads (no strings: free to copy).
    private var context = NBDTransmissionContext(NBDSession(
        export: NBDExportDescription(name: "", size: 0, flags: []), flags: [], structuredReplies: false, baseAllocationID: nil))
    private var backend: (any ExportBackend)?
    /// The export in transmission (an index into the server's exports), and its counters.
    private(set) var exportIndex = -1
    private var exportStats: ExportStats?
    /// When each slot's request went to the backend (monotonic ns), by slot index.
    private var startTimes: UnsafeMutablePointer<UInt64>?
    private var framer = NBDRequestFramer()

    private var slots: [RequestSlot] = []
    private var freeSlots: [Int32] = []
    private var headerSlab: UnsafeMutableRawPointer?
    /// The write whose payload is arriving, and how much of it has.
    private var writeSlot: RequestSlot?
    private var writeFill = 0

    private let rx: UnsafeMutableRawPointer
    private var rxStart = 0
    private var rxEnd = 0

    /// Negotiation replies (rare: an array is fine), sent before any slot's reply.
    private var control: [UInt8] = []
    private var controlSent = 0
    private var replies: SlotQueue
    /// Bytes of the first queued reply already sent.
    private var headSent = 0
    private let iovecs: UnsafeMutablePointer<iovec>

    private var watch: FDWatch?
    private var watchedEvents: PollEvents = []
    private var blockedOnSend = false
    private var sendScheduled = false
    private let sendKick = IORequest()

    private var inputClosed = false
    private var outputBroken = false
    private var isProcessingInput = false
    private var inflight = 0
    /// Bytes of cache buffers the slots hold now.
    private var bufferBytesHeld = 0
    private(set) var isClosed = false
    private(set) var closeReason = ""
    private let coalesceReplies: Bool
    /// When the connection was accepted (monotonic), for the negotiation timeout.
    let acceptedAt = monotonicNanoseconds()
    var isNegotiating: Bool { session == nil && !isClosed }
    private var stats = ConnectionStats()

    init(id: Int, fd: Int32, server: NBDServer, exports: [NBDExportDescription], cache: BufferCache, logger: Logger) {
        self.id = id
        self.fd = fd
        self.server = server
        self.loop = server.loop
        self.cache = cache
        self.logger = logger
        coalesceReplies = server.configuration.coalesceReplies
        negotiation = NBDNegotiation(exports: exports)
        rx = .allocate(byteCount: DataPathLimits.receiveBufferBytes, alignment: 64)
        replies = SlotQueue(capacity: DataPathLimits.slotsPerConnection)
        iovecs = .allocate(capacity: DataPathLimits.sendIovecsMax)
        sendKick.onComplete = { [unowned(unsafe) self] _ in
            self.sendScheduled = false
            self.flushSend()
            self.settle()
        }
    }

    deinit {
        rx.deallocate()
        iovecs.deallocate()
        replies.deallocate()
        headerSlab?.deallocate()
        startTimes?.deallocate()
    }

    /// Sends the greeting and starts watching the socket.
    func start() {
        control = negotiation.greeting()
        flushSend()
        settle()
    }

    /// Stops taking requests (server shutdown); in-flight ones finish and are answered.
    func beginShutdown() {
        endInput("server shutting down")
        settle()
    }

    /// Takes requests again after an unpause, from the export's (possibly new) backend:
    /// the slots are bound to it, then whatever the client sent meanwhile is read.
    func resume() {
        guard !isClosed else { return }
        if exportIndex >= 0, let current = backend, current !== server.exports[exportIndex].backend {
            let fresh = server.exports[exportIndex].backend
            backend = fresh
            for slot in slots {
                // Backend scratch made for the old backend refers to it: start afresh.
                slot.request.subrequests.removeAll()
                fresh.prepare(slot.request)
            }
        }
        if !inputClosed { processInput() }
        settle()
    }

    /// Gives up on the client: nothing more is sent (shutdown grace expired).
    func abort() {
        breakOutput("aborted by the server")
        settle()
    }

    // MARK: Events

    private func handle(_ events: PollEvents) {
        if events.contains(.writable) || (blockedOnSend && !events.isDisjoint(with: [.error, .hangup])) {
            blockedOnSend = false
            flushSend()
        }
        if !inputClosed && !events.isDisjoint(with: [.readable, .hangup, .error]) {
            processInput()
        }
        settle()
    }

    /// Re-evaluates what to watch for and whether the connection is done.
    private func settle() {
        guard !isClosed else { return }
        if inputClosed && inflight == 0 && !sendScheduled && !isProcessingInput
            && (outputBroken || (replies.isEmpty && controlSent == control.count)) {
            teardown()
            return
        }
        var want: PollEvents = []
        if !inputClosed && !isStalled { want.insert(.readable) }
        if blockedOnSend && !outputBroken { want.insert(.writable) }
        guard want != watchedEvents else { return }
        watch?.cancel()
        watch = nil
        watchedEvents = want
        if !want.isEmpty {
            // Not weak: a weak reference gives the connection a side table, which slows every
            // retain and release of it on the hot path. The watch never fires after cancel(),
            // and teardown cancels it before the connection can go.
            watch = loop.watch(fd: fd, events: want) { [unowned(unsafe) self] events in self.handle(events) }
        }
    }

    /// The next bytes would need a slot and none is free, or the connection already holds
    /// its share of buffer memory (a client that sends reads and never takes the replies).
    /// Or the server is paused (nothing is read, not even the rest of a write's payload).
    private var isStalled: Bool {
        !server.acceptsRequests || (session != nil && writeSlot == nil
            && (freeSlots.isEmpty || bufferBytesHeld >= DataPathLimits.connectionBufferBytesMax))
    }

    private func teardown() {
        isClosed = true
        watch?.cancel()
        watch = nil
        Glibc.close(fd)
        for slot in slots where slot.buffer != nil { releaseBuffer(slot) }
        logger.debug("connection \(id) closed: \(closeReason); \(stats.description)")
        server.connectionClosed(self)
    }

    private func endInput(_ reason: String) {
        if !inputClosed {
            inputClosed = true
            if closeReason.isEmpty { closeReason = reason }
        }
        if let slot = writeSlot {
            // A write whose payload never fully arrived: nothing to answer.
            writeSlot = nil
            release(slot)
        }
    }

    private func breakOutput(_ reason: String) {
        endInput(reason)
        guard !outputBroken else { return }
        outputBroken = true
        control.removeAll()
        controlSent = 0
        while !replies.isEmpty { release(slots[Int(replies.pop())]) }
        headSent = 0
    }

    // MARK: Input

    private func processInput() {
        guard !isProcessingInput else { return }
        isProcessingInput = true
        defer { isProcessingInput = false }
        var receives = 0
        // A short recv means the socket is drained: parse, then wait for the next event
        // instead of paying a recv that only says EAGAIN.
        var drained = false
        while !inputClosed {
            parseBuffered()
            if drained || inputClosed || isStalled || receives == DataPathLimits.receivesPerEvent { break }
            receives += 1
            let n: Int
            if let slot = writeSlot, rxStart == rxEnd, framer.payloadRemaining > 0 {
                // The rest of a write goes straight into its buffer.
                let want = framer.payloadRemaining
                n = recv(fd, slot.buffer! + writeFill, want, Int32(MSG_DONTWAIT))
                if n > 0 {
                    writeFill += n
                    if framer.payloadReceivedDirectly(n) { submitWrite(slot) }
                    drained = n < want
                    continue
                }
            } else {
                if rxStart > 0 {
                    let left = rxEnd - rxStart
                    if left > 0 { memmove(rx, rx + rxStart, left) }
                    rxStart = 0
                    rxEnd = left
                }
                let want = DataPathLimits.receiveBufferBytes - rxEnd
                n = recv(fd, rx + rxEnd, want, Int32(MSG_DONTWAIT))
                stats.recvCalls += 1
                if n > 0 {
                    rxEnd += n
                    drained = n < want
                    continue
                }
            }
            if n == 0 { endInput("client closed the connection"); break }
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK { break }
            if code == EINTR { continue }
            breakOutput("recv: \(String(cString: strerror(code)))")
        }
    }

    /// Consumes buffered bytes as far as the protocol and free slots allow.
    private func parseBuffered() {
        while !inputClosed && rxStart < rxEnd && server.acceptsRequests {
            let input = UnsafeRawBufferPointer(start: rx + rxStart, count: rxEnd - rxStart)
            guard session != nil else {
                let (used, actions) = negotiation.receive(input)
                rxStart += used
                apply(actions)
                if session == nil { break } else { continue }
            }
            if isStalled { break }
            let (event, used) = framer.next(input)
            rxStart += used
            switch event {
            case .needMore:
                if rxStart == rxEnd { break } else { continue }
            case .badMagic:
                breakOutput("bad request magic")
            case let .request(header):
                handleRequest(header)
            case let .payload(chunk, isLast):
                let slot = writeSlot!
                (slot.buffer! + writeFill).copyMemory(from: chunk.baseAddress!, byteCount: chunk.count)
                writeFill += chunk.count
                if isLast { submitWrite(slot) }
            }
        }
        if rxStart == rxEnd { rxStart = 0; rxEnd = 0 }
    }

    private func apply(_ actions: [NBDNegotiation.Action]) {
        for action in actions {
            switch action {
            case let .send(bytes):
                control += bytes
            case let .close(reason):
                endInput(reason)
            case let .transmit(session):
                startTransmission(session)
            }
        }
        flushSend()
    }

    private func startTransmission(_ session: NBDSession) {
        guard let index = server.exportIndex(named: session.export.name) else {
            endInput("export \(session.export.name) vanished")
            return
        }
        let backend = server.exports[index].backend
        self.session = session
        self.context = NBDTransmissionContext(session)
        self.backend = backend
        exportIndex = index
        exportStats = server.stats[index]
        let count = DataPathLimits.slotsPerConnection
        let slab = UnsafeMutableRawPointer.allocate(byteCount: count * NBDLimits.replyHeaderBytesMax, alignment: 64)
        headerSlab = slab
        startTimes = .allocate(capacity: count)
        startTimes!.initialize(repeating: 0, count: count)
        slots.reserveCapacity(count)
        freeSlots.reserveCapacity(count)
        for i in 0..<count {
            let slot = RequestSlot(index: Int32(i), header: slab + i * NBDLimits.replyHeaderBytesMax)
            backend.prepare(slot.request)
            slot.request.onComplete = { [unowned(unsafe) self, unowned(unsafe) slot] _ in self.completed(slot) }
            slots.append(slot)
            freeSlots.append(Int32(count - 1 - i))
        }
        logger.debug("connection \(id) serves \(session.export.name): flags 0x\(String(session.flags.rawValue, radix: 16)), structured \(session.structuredReplies)")
    }

    // MARK: Requests

    private func handleRequest(_ header: NBDRequestHeader) {
        switch NBDRequestValidation.validate(header, context: context) {
        case .disconnect:
            endInput("client sent DISC")
        case let .reject(cookie, command, error, discard):
            exportStats?.rejected(command)
            let slot = takeSlot(cookie: cookie)
            encodeError(slot, command: command, error: error)
            framer.discardPayload(discard)
            enqueue(slot)
        case let .accept(request):
            let slot = takeSlot(cookie: request.cookie)
            let length = Int(request.length)
            var buffer: UnsafeMutableRawPointer?
            if (request.command == .read || request.command == .write) && length > 0 {
                buffer = cache.take(length)
                slot.buffer = buffer
                slot.bufferBytes = length
                bufferBytesHeld += length
            }
            slot.request.begin(command: request.command, flags: request.flags, offset: request.offset,
                               length: length, buffer: buffer)
            if request.command == .write && length > 0 {
                writeSlot = slot
                writeFill = 0
                framer.expectPayload(length)
            } else {
                submit(slot)
            }
        }
    }

    private func takeSlot(cookie: UInt64) -> RequestSlot {
        let slot = slots[Int(freeSlots.removeLast())]
        slot.cookie = cookie
        slot.headerLength = 0
        slot.payload = nil
        slot.payloadLength = 0
        return slot
    }

    private func submitWrite(_ slot: RequestSlot) {
        writeSlot = nil
        submit(slot)
    }

    private func submit(_ slot: RequestSlot) {
        inflight += 1
        server.requestsInFlight += 1
        server.bytesInFlight += slot.request.length
        stats.requests += 1
        stats.inflightSum += inflight
        startTimes![Int(slot.index)] = monotonicNanoseconds()
        exportStats!.started()
        backend!.submit(slot.request)
    }

    private func completed(_ slot: RequestSlot) {
        let r = slot.request
        exportStats!.completed(r.command, bytes: r.length, failed: r.error != nil,
                               nanoseconds: monotonicNanoseconds() &- startTimes![Int(slot.index)])
        inflight -= 1
        server.requestsInFlight -= 1
        server.bytesInFlight -= slot.request.length
        if outputBroken {
            release(slot)
        } else {
            encodeReply(slot)
            enqueue(slot)
        }
        // A send may have filled the socket (watch for writable) or the last request of a
        // closing connection may be done.
        if blockedOnSend != (watchedEvents.contains(.writable)) || (inflight == 0 && inputClosed) { settle() }
    }

    // MARK: Replies

    private func encodeReply(_ slot: RequestSlot) {
        let r = slot.request
        if let error = r.error {
            encodeError(slot, command: r.command, error: error)
            return
        }
        let structured = context.structuredReplies
        switch r.command {
        case .read:
            if r.length == 0 {
                slot.headerLength = structured
                    ? NBDReplyEncoding.doneChunk(into: slot.header, cookie: slot.cookie)
                    : NBDReplyEncoding.simple(into: slot.header, cookie: slot.cookie, error: nil)
            } else if r.readIsHole && structured {
                slot.headerLength = NBDReplyEncoding.offsetHole(into: slot.header, cookie: slot.cookie, offset: r.offset,
                                                                size: UInt32(r.length), done: true)
            } else {
                if r.readIsHole { slot.buffer!.initializeMemory(as: UInt8.self, repeating: 0, count: r.length) }
                slot.headerLength = structured
                    ? NBDReplyEncoding.offsetData(into: slot.header, cookie: slot.cookie, offset: r.offset,
                                                  dataLength: r.length, done: true)
                    : NBDReplyEncoding.simple(into: slot.header, cookie: slot.cookie, error: nil)
                slot.payload = slot.buffer
                slot.payloadLength = r.length
            }
        case .blockStatus:
            let extents = NBDBlockStatusShaping.shape(r.extents, requestLength: UInt32(r.length),
                                                      reqOne: r.flags.contains(.reqOne),
                                                      alignment: context.minimumBlock)
            guard !extents.isEmpty else {
                encodeError(slot, command: .blockStatus, error: .io)
                return
            }
            let bytes = NBDLimits.blockStatusPrefixBytes + NBDLimits.blockStatusDescriptorBytes * extents.count
            let buffer = cache.take(bytes)
            slot.buffer = buffer
            slot.bufferBytes = bytes
            bufferBytesHeld += bytes
            slot.payload = buffer
            slot.payloadLength = extents.withUnsafeBufferPointer {
                NBDReplyEncoding.blockStatus(into: buffer, cookie: slot.cookie,
                                             contextID: context.baseAllocationID!, extents: $0)
            }
        default:
            slot.headerLength = NBDReplyEncoding.simple(into: slot.header, cookie: slot.cookie, error: nil)
        }
    }

    /// An error reply: a chunk where the client expects a structured reply, else simple.
    private func encodeError(_ slot: RequestSlot, command: NBDCommand?, error: NBDError) {
        if context.structuredReplies && (command == .read || command == .blockStatus) {
            slot.headerLength = NBDReplyEncoding.errorChunk(into: slot.header, cookie: slot.cookie, error: error)
        } else {
            slot.headerLength = NBDReplyEncoding.simple(into: slot.header, cookie: slot.cookie, error: error)
        }
        slot.payload = nil
        slot.payloadLength = 0
    }

    private func enqueue(_ slot: RequestSlot) {
        replies.push(slot.index)
        if !coalesceReplies && !blockedOnSend && !isProcessingInput {
            flushSend()
            return
        }
        if !sendScheduled && !blockedOnSend {
            sendScheduled = true
            loop.post(sendKick, result: 0, failure: nil)
        }
    }

    // MARK: Sending

    /// Sends queued negotiation bytes, then as many queued replies as the socket takes.
    private func flushSend() {
        guard !outputBroken else { return }
        while controlSent < control.count {
            let n = control.withUnsafeBytes {
                send(fd, $0.baseAddress! + controlSent, $0.count - controlSent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if n > 0 { controlSent += n; continue }
            if !sendFailed() { return }
        }
        if !control.isEmpty {
            control.removeAll(keepingCapacity: true)
            controlSent = 0
        }
        let stalledBefore = isStalled
        while !replies.isEmpty {
            var total = 0
            var count = 0
            var skip = headSent
            var i = 0
            while i < replies.count && count + 2 <= DataPathLimits.sendIovecsMax {
                let slot = slots[Int(replies.peek(i))]
                if skip < slot.headerLength {
                    iovecs[count] = iovec(iov_base: slot.header + skip, iov_len: slot.headerLength - skip)
                    total += slot.headerLength - skip
                    count += 1
                }
                let dataSkip = max(0, skip - slot.headerLength)
                if slot.payloadLength > dataSkip {
                    iovecs[count] = iovec(iov_base: slot.payload! + dataSkip, iov_len: slot.payloadLength - dataSkip)
                    total += slot.payloadLength - dataSkip
                    count += 1
                }
                skip = 0
                i += 1
            }
            var message = msghdr()
            message.msg_iov = iovecs
            message.msg_iovlen = count
            let n = sendmsg(fd, &message, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            stats.sendCalls += 1
            if n > 0 {
                consumeSent(n)
                if n < total { blockedOnSend = true; break }
                continue
            }
            if !sendFailed() { break }
        }
        if stalledBefore && !isStalled && !inputClosed {
            // Slots came free: parse what is already buffered before waiting for more.
            processInput()
        }
    }

    /// Handles a failed send: true to retry (EINTR), false to stop sending for now.
    private func sendFailed() -> Bool {
        let code = errno
        if code == EINTR { return true }
        if code == EAGAIN || code == EWOULDBLOCK {
            blockedOnSend = true
        } else {
            breakOutput("send: \(String(cString: strerror(code)))")
        }
        return false
    }

    private func consumeSent(_ sent: Int) {
        var left = sent
        while left > 0 {
            let slot = slots[Int(replies.peek(0))]
            let rest = slot.replyLength - headSent
            if left >= rest {
                left -= rest
                headSent = 0
                release(slots[Int(replies.pop())])
            } else {
                headSent += left
                left = 0
            }
        }
    }

    private func release(_ slot: RequestSlot) {
        if slot.buffer != nil { releaseBuffer(slot) }
        freeSlots.append(slot.index)
    }

    private func releaseBuffer(_ slot: RequestSlot) {
        cache.give(slot.buffer!, bytes: slot.bufferBytes)
        bufferBytesHeld -= slot.bufferBytes
        slot.buffer = nil
        slot.bufferBytes = 0
    }
}
