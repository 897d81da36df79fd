/// Lets one synchronous image call run at a time on an export's loop.
///
/// A synchronous image call (an allocating write, a flush, a merge's metadata step) runs the
/// loop nested until its I/O is done, and new requests arrive in those nested turns. VHD
/// metadata code is not re-entrant: a flush clears its dirty sets after writing them, so a
/// write nested inside it would have its new bitmap bits or BAT entry dropped. While a call
/// holds the gate, later calls wait and run in order when it is released.
///
/// Waiting work is a closure: only calls that already do synchronous I/O (and allocate for
/// it) get here, never the asynchronous read and overwrite paths.
final class ImageCallGate {
    private(set) var isHeld = false
    private var waiting: [() -> Void] = []
    private var nextWaiting = 0
    private var isDraining = false

    init() {
        waiting.reserveCapacity(64)
    }

    /// Takes the gate; false when a call holds it (then queue the work with `later`).
    func enter() -> Bool {
        guard !isHeld else { return false }
        isHeld = true
        return true
    }

    /// Queues `work` to run once the gate is free; `work` enters the gate itself.
    func later(_ work: @escaping () -> Void) {
        waiting.append(work)
    }

    /// Runs `work` holding the gate: now when it is free, else after the calls queued before.
    func run(_ work: @escaping () -> Void) {
        guard enter() else {
            later { [unowned self] in self.run(work) }
            return
        }
        work()
        leave()
    }

    /// Releases the gate and runs the waiting work in order (the outermost release does).
    func leave() {
        precondition(isHeld, "ImageCallGate released while free")
        isHeld = false
        guard !isDraining else { return }
        isDraining = true
        while !isHeld && nextWaiting < waiting.count {
            let work = waiting[nextWaiting]
            waiting[nextWaiting] = {}
            nextWaiting += 1
            work()
        }
        if nextWaiting == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            nextWaiting = 0
        }
        isDraining = false
    }

    /// Nothing holds the gate and nothing waits for it.
    var isIdle: Bool { !isHeld && nextWaiting == waiting.count }
}
