import Glibc
import StorageIO

/// An in-memory BlockIO that models what a real disk may do to data across a power cut.
///
/// Durable media sits under a volatile write cache: a write enters the cache when it
/// completes, a flush moves what completed before it to the media, a FUA write goes straight
/// there, and `crash()` decides per write and per sector what made it. A seeded `FaultPlan`
/// adds EIO, ENOSPC, failing flushes and delayed, reordered completions. Everything is driven
/// by the seed and the event loop's turns, never by the clock, so the same seed and the same
/// operations give the same `trace`.
///
/// Like every store it is confined to its loop's thread, and completes requests on later
/// loop turns, never inside `submit`.
public final class SimulatedDisk: BlockIO {
    public let configuration: Configuration
    public let loop: EventLoop
    public let seed: UInt64
    /// How many crashes and restarts led to this disk (0 for a fresh one).
    public let generation: Int
    public var name: String { configuration.name }
    public let capabilities: BlockIOCapabilities
    public var size: UInt64 { layers.size }
    public private(set) var isClosed = false
    /// `crash()` ran: nothing more completes, and `restart()` gives the disk after reboot.
    public private(set) var isCrashed = false
    /// The faults in force; may be changed between requests.
    public var faultPlan: FaultPlan {
        get { faults.plan }
        set { faults.plan = newValue }
    }
    /// What happened to each pending and in-flight write at the crash (empty before one).
    public internal(set) var crashRecords: [CrashRecord] = []

    var layers: SectorLayers
    var faults: FaultInjector
    var random: SplitMix64
    var log: SimulationTrace
    /// Submitted, validated, not yet completed; in submission order.
    var inFlight: [InFlightRequest] = []
    /// Request numbers continue across restarts, so trace lines never share a number.
    private(set) var nextRequestID: UInt64
    private var submitted = 0
    /// Loop turns seen by the tick: the simulation's only clock.
    private var turn: UInt64 = 0
    private let tick = IORequest()
    private var tickPosted = false

    /// One request between submit and completion, with its fate decided at submit.
    struct InFlightRequest {
        let id: UInt64
        let request: IORequest
        let releaseTurn: UInt64
        let fault: (failure: BlockIOError, reason: String)?
        /// For a flush: the last write sequence it covers.
        let watermark: UInt64
    }

    /// A fresh, zero-filled disk.
    public convenience init(_ configuration: Configuration, seed: UInt64, loop: EventLoop, faults: FaultPlan = .none) {
        self.init(configuration: configuration, seed: seed, loop: loop, faults: faults,
                  layers: SectorLayers(sectorSize: configuration.sectorSize, size: configuration.size),
                  random: SplitMix64(seed: seed), trace: SimulationTrace(), generation: 0, firstRequestID: 1)
    }

    /// A fresh, zero-filled disk of `size` bytes with the default shape.
    public convenience init(size: UInt64, seed: UInt64, loop: EventLoop, faults: FaultPlan = .none) {
        self.init(Configuration(size: size), seed: seed, loop: loop, faults: faults)
    }

    init(configuration: Configuration, seed: UInt64, loop: EventLoop, faults: FaultPlan, layers: SectorLayers,
         random: SplitMix64, trace: SimulationTrace, generation: Int, firstRequestID: UInt64) {
        self.configuration = configuration
        self.capabilities = configuration.capabilities
        self.loop = loop
        self.seed = seed
        self.generation = generation
        self.layers = layers
        self.faults = FaultInjector(plan: faults)
        self.random = random
        self.log = trace
        self.nextRequestID = firstRequestID
        tick.onComplete = { [weak self] _ in self?.runTick() }
    }

    /// The trace so far, across restarts: one line per submit, completion, fault, flush,
    /// resize, close and crash decision.
    public var trace: [String] { log.lines }
    /// A digest of `trace`.
    public var traceDigest: UInt64 { log.digest }
    /// The line a failing test prints to be replayed.
    public var replayHint: String { SimulationSeed.replayHint(seed: seed) }

    /// Completed writes not yet durable.
    public var pendingWriteCount: Int { layers.cache.writes.count }
    /// Requests submitted and not yet completed.
    public var inFlightCount: Int { inFlight.count }

    // MARK: Submission

    public func submit(_ request: IORequest) {
        request.begin()
        submitted += 1
        if let limit = faults.plan.powerLossAfterRequests, submitted > limit, !isCrashed {
            note("power loss before request \(submitted)")
            crash()
        }
        let id = nextRequestID
        nextRequestID += 1
        if let failure = validate(request) {
            note("#\(id) reject \(describe(request)): \(failure)")
            loop.post(request, result: -failure.errno, failure: failure)
            return
        }
        let fault = faults.decide(request, store: name, random: &random)
        let delay = faults.plan.maxDelayTurns > 0 ? UInt64(random.int(in: 0...faults.plan.maxDelayTurns)) : 0
        let watermark = request.operation == .flush ? layers.flushWatermark : 0
        var line = "#\(id) submit \(describe(request))"
        if request.operation == .write, request.length > 0, let buffer = request.buffer {
            line += " data=\(SimulationTrace.digest(of: buffer, count: request.length))"
        }
        if delay > 0 { line += " delay=\(delay)" }
        note(line)
        if let fault { note("#\(id) fault \(fault.failure.errno == ENOSPC ? "ENOSPC" : "EIO") (\(fault.reason))") }
        inFlight.append(InFlightRequest(id: id, request: request, releaseTurn: turn + 1 + delay,
                                        fault: fault, watermark: watermark))
        scheduleTick()
    }

    private func scheduleTick() {
        guard !tickPosted, !isCrashed else { return }
        tickPosted = true
        loop.post(tick, result: 0, failure: nil)
    }

    /// One loop turn of the simulated device: completes the requests due now, in seeded order
    /// when the plan reorders, and comes back next turn while any remain.
    private func runTick() {
        tickPosted = false
        guard !isCrashed else { return }
        turn += 1
        var due = inFlight.filter { $0.releaseTurn <= turn }.map(\.id)
        if faults.plan.reorder { random.shuffle(&due) }
        for id in due {
            // A completion handler may crash the disk: what is left stays in flight for it.
            guard !isCrashed else { return }
            guard let index = inFlight.firstIndex(where: { $0.id == id }) else { continue }
            complete(inFlight.remove(at: index))
        }
        if !inFlight.isEmpty { scheduleTick() }
    }

    private func complete(_ entry: InFlightRequest) {
        let request = entry.request
        let id = entry.id
        if let fault = entry.fault {
            if request.operation == .flush {
                let lost = layers.drop(through: entry.watermark)
                note("#\(id) flush failed: dropped \(lost) pending writes")
            }
            note("#\(id) complete \(request.operation) result=\(-fault.failure.errno)")
            request.finish(result: -fault.failure.errno, failure: fault.failure)
            return
        }
        switch request.operation {
        case .read:
            if request.length > 0 {
                layers.read(into: request.buffer!, offset: request.offset, length: request.length)
            }
        case .write, .discard:
            let durable = request.fua && capabilities.canFUA
            let data = request.operation == .write ? UnsafeRawPointer(request.buffer) : nil
            let sequence = layers.complete(requestID: id, operation: request.operation.description, data: data,
                                           offset: request.offset, length: request.length, durable: durable)
            note("#\(id) cache \(request.operation) seq=\(sequence)\(durable ? " durable (fua)" : "")")
        case .flush:
            let count = layers.flush(through: entry.watermark)
            note("#\(id) flush made \(count) writes durable (through seq \(entry.watermark))")
        }
        let result = Int32(request.operation == .flush ? 0 : request.length)
        note("#\(id) complete \(request.operation) result=\(result)")
        request.finish(result: result, failure: nil)
    }

    // MARK: Size and lifetime

    /// Grows (zeros) or shrinks the disk at once; the new size is durable immediately.
    public func resize(to newSize: UInt64) throws {
        guard !isClosed else { throw BlockIOError.closed(store: name, operation: .write) }
        guard !capabilities.isReadOnly else { throw BlockIOError.readOnly(store: name, operation: .write) }
        guard configuration.canResize else { throw BlockIOError.unsupported(store: name, what: "resize") }
        if newSize % UInt64(capabilities.alignment) != 0 {
            throw BlockIOError.unaligned(store: name, operation: .write, field: "new size",
                                         value: newSize, alignment: capabilities.alignment)
        }
        note("resize \(layers.size) -> \(newSize)")
        layers.resize(to: newSize)
    }

    /// Refuses new requests. Requests in flight still complete and cached writes stay cached
    /// (closing a file does not flush it): a later `crash()` still decides their fate.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        note("close")
    }

    /// The crash's end: closed for good, nothing more completes.
    func markCrashed() {
        isCrashed = true
        isClosed = true
    }

    func note(_ line: String) {
        log.record(line)
    }

    func describe(_ request: IORequest) -> String {
        switch request.operation {
        case .flush: return "flush"
        case .read, .discard: return "\(request.operation) off=\(request.offset) len=\(request.length)"
        case .write: return "write off=\(request.offset) len=\(request.length)\(request.fua ? " fua" : "")"
        }
    }
}
