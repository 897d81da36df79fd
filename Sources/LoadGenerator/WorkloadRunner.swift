import StorageIO

/// Drives a BlockIO store with a workload at its queue depth, on the store's loop.
///
/// Each queue slot owns one IORequest and one buffer for the whole run: completions record
/// latency and reissue the slot, so the measured path allocates nothing.
public final class WorkloadRunner {
    private let store: any BlockIO
    private let workload: Workload
    private let pool: AlignedBufferPool
    private var slots: [IORequest] = []
    private var submittedAt: UnsafeMutablePointer<UInt64>
    private var random: OffsetRandom
    private var sequentialNext: UInt64 = 0
    private var blocksInRegion: UInt64

    private var result = WorkloadResult()
    private var measuring = false
    private var stopping = false
    private var inflight = 0
    private var writesSinceFlush = 0
    private var failure: WorkloadError?
    /// Blocks this job wrote, for the closing verify pass; empty unless verifying writes.
    private var written: WrittenBlocks
    private var generation: UInt64 = 0
    private var verifying = false
    private var verifyCursor = 0
    private var bytesIssued: UInt64 = 0
    private var measureStart: UInt64 = 0
    private var deadline: UInt64 = 0
    private var rampEnd: UInt64 = 0
    /// Flush requests are separate from data slots so a flush never steals a data buffer.
    private let flushRequest = IORequest(.flush)
    private var flushInflight = false

    /// Observes progress once per `progressInterval` seconds (for live output).
    public var onProgress: ((WorkloadResult) -> Void)?
    public var progressIntervalSeconds: Double = 1
    private var nextProgress: UInt64 = 0
    private var lastProgressSnapshot = WorkloadResult()

    public init(store: any BlockIO, workload: Workload) throws {
        try workload.validate(targetSize: store.size, alignment: store.capabilities.alignment)
        self.store = store
        self.workload = workload
        self.pool = AlignedBufferPool(bufferSize: roundUp(workload.blockSize, StorageLimits.bufferAlignment),
                                      count: workload.queueDepth)
        self.submittedAt = .allocate(capacity: workload.queueDepth)
        self.submittedAt.initialize(repeating: 0, count: workload.queueDepth)
        self.random = OffsetRandom(seed: workload.seed)
        self.blocksInRegion = workload.regionLength / UInt64(workload.blockSize)
        self.written = WrittenBlocks(count: workload.verify && workload.readPercent < 100 ? Int(blocksInRegion) : 0)
        fillBuffers()
    }

    deinit { submittedAt.deallocate() }

    /// Random, incompressible data in every buffer, so writes are not trivially dedupable.
    private func fillBuffers() {
        var fill = OffsetRandom(seed: workload.seed ^ 0xF111)
        let words = pool.region.bindMemory(to: UInt64.self)
        for i in words.indices { words[i] = fill.next() }
    }

    /// Runs the workload to its end and returns what was measured.
    public func run() throws -> WorkloadResult {
        let loop = store.loop
        pool.register(with: loop)
        slots = (0..<workload.queueDepth).map { index in
            let request = IORequest()
            request.tag = index
            request.buffer = pool.buffer(at: index)
            request.length = workload.blockSize
            request.onComplete = { [unowned self] in self.completed($0) }
            return request
        }
        flushRequest.onComplete = { [unowned self] in self.flushCompleted($0) }
        let now = monotonicNanoseconds()
        rampEnd = now + UInt64(workload.rampSeconds * 1e9)
        deadline = rampEnd + UInt64(workload.runtimeSeconds * 1e9)
        measuring = workload.rampSeconds <= 0
        measureStart = now
        nextProgress = now + UInt64(progressIntervalSeconds * 1e9)
        for slot in slots { issue(slot) }
        while inflight > 0 || flushInflight {
            loop.runOnce(timeoutNanoseconds: -1)
        }
        result.elapsedSeconds = Double(monotonicNanoseconds() - measureStart) / 1e9
        if failure == nil && written.count > 0 { verifyWritten() }
        if let failure { throw failure }
        return result
    }

    /// Reads back every block the job wrote and checks it (after the measured phase).
    private func verifyWritten() {
        verifying = true
        stopping = false
        for slot in slots {
            guard issueVerify(slot) else { break }
        }
        while inflight > 0 { store.loop.runOnce(timeoutNanoseconds: -1) }
    }

    private func issueVerify(_ request: IORequest) -> Bool {
        guard let block = written.next(from: &verifyCursor) else { return false }
        request.operation = .read
        request.offset = workload.regionOffset + UInt64(block) * UInt64(workload.blockSize)
        inflight += 1
        store.submit(request)
        return true
    }

    private func verifyCompleted(_ request: IORequest) {
        inflight -= 1
        if let error = request.failure {
            failure = failure ?? .io(error.description)
        } else if let problem = VerifyBlock.check(request.buffer!, length: request.length, offset: request.offset) {
            failure = failure ?? .verify(offset: request.offset, problem: problem)
        }
        if failure == nil { _ = issueVerify(request) }
    }

    @inline(__always)
    private func issue(_ request: IORequest) {
        let isRead = chooseRead()
        request.operation = isRead ? .read : .write
        request.offset = nextOffset()
        if workload.verify && !isRead {
            generation &+= 1
            VerifyBlock.stamp(request.buffer!, length: request.length, offset: request.offset, generation: generation)
            written.insert(Int((request.offset - workload.regionOffset) / UInt64(workload.blockSize)))
        }
        submittedAt[request.tag] = monotonicNanoseconds()
        inflight += 1
        bytesIssued &+= UInt64(workload.blockSize)
        store.submit(request)
    }

    @inline(__always)
    private func chooseRead() -> Bool {
        switch workload.readPercent {
        case 100: true
        case 0: false
        default: Int(random.next() % 100) < workload.readPercent
        }
    }

    @inline(__always)
    private func nextOffset() -> UInt64 {
        let block: UInt64
        if workload.pattern.isRandom {
            block = random.next() % blocksInRegion
        } else {
            block = sequentialNext
            sequentialNext = sequentialNext + 1 == blocksInRegion ? 0 : sequentialNext + 1
        }
        return workload.regionOffset + block * UInt64(workload.blockSize)
    }

    private func completed(_ request: IORequest) {
        if verifying { return verifyCompleted(request) }
        inflight -= 1
        let now = monotonicNanoseconds()
        if let error = request.failure {
            failure = failure ?? .io(error.description)
            stopping = true
            return
        }
        if workload.verify && request.operation == .read && shouldCheckRead(request) {
            if let problem = VerifyBlock.check(request.buffer!, length: request.length, offset: request.offset) {
                failure = failure ?? .verify(offset: request.offset, problem: problem)
                stopping = true
                return
            }
        }
        if !measuring && now >= rampEnd {
            measuring = true
            measureStart = now
            result = WorkloadResult()
        }
        if measuring {
            let latency = now &- submittedAt[request.tag]
            if request.operation == .read {
                result.read.ios &+= 1
                result.read.bytes &+= UInt64(request.length)
                _ = result.read.latency.record(latency)
            } else {
                result.write.ios &+= 1
                result.write.bytes &+= UInt64(request.length)
                _ = result.write.latency.record(latency)
            }
        }
        if request.operation == .write && workload.flushEvery > 0 {
            writesSinceFlush += 1
            if writesSinceFlush >= workload.flushEvery && !flushInflight {
                writesSinceFlush = 0
                flushInflight = true
                store.submit(flushRequest)
            }
        }
        if now >= nextProgress, let onProgress {
            nextProgress = now + UInt64(progressIntervalSeconds * 1e9)
            var snapshot = result
            snapshot.elapsedSeconds = Double(now - measureStart) / 1e9
            onProgress(snapshot)
        }
        if now >= deadline { stopping = true }
        if !workload.timeBased && bytesIssued >= workload.regionLength { stopping = true }
        if !stopping { issue(request) }
    }

    /// A job that also writes checks only blocks it has written; a pure read job checks all.
    private func shouldCheckRead(_ request: IORequest) -> Bool {
        written.count == 0 || written.contains(Int((request.offset - workload.regionOffset) / UInt64(workload.blockSize)))
    }

    private func flushCompleted(_ request: IORequest) {
        flushInflight = false
        if let error = request.failure {
            failure = failure ?? .io(error.description)
            stopping = true
        } else if measuring {
            result.flushes += 1
        }
    }
}

@inline(__always)
func roundUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
