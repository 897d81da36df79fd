/// Decides which guest writes may start while a live leaf-merge copies the leaf's blocks
/// into the parent, so that old data can never overwrite newer data in the parent.
///
/// Per block (of the image's block size):
/// - `pending`: the leaf held it when copying began and it is not copied yet. Writes go to
///   the leaf only: the copy, later, reads the leaf after them.
/// - `claimed`: the copier took it. It waits until the writes in flight on it finish, then
///   reads the leaf and writes the parent; writes arriving meanwhile wait until it is done.
/// - `done`: copied, or never held by the leaf. Writes go to the leaf and to the parent.
/// Blocks only move forward (pending, claimed, done), so one pass converges whatever the
/// write rate. Mirrored writes that overlap each other run one after the other, so the leaf
/// and the parent see overlapping writes in the same order.
final class MergeInterlock {
    enum BlockState: UInt8 {
        case done, pending, claimed
    }

    enum Admission: Equatable {
        case wait
        /// May start; `mirror` when part of it lies in done blocks.
        case start(mirror: Bool)
    }

    let blockBytes: UInt64
    private var states: [BlockState]
    /// Writes in flight per block (started, not completed).
    private var activeWrites: [Int32]
    /// Byte ranges of mirrored writes in flight, with their owners.
    private var mirrored: [(start: UInt64, end: UInt64, owner: ObjectIdentifier)] = []

    init(blockCount: Int, blockBytes: UInt64) {
        self.blockBytes = blockBytes
        states = [BlockState](repeating: .done, count: blockCount)
        activeWrites = [Int32](repeating: 0, count: blockCount)
        mirrored.reserveCapacity(256)
    }

    var blockCount: Int { states.count }

    func state(_ block: Int) -> BlockState { states[block] }
    func writesInFlight(_ block: Int) -> Int { Int(activeWrites[block]) }
    func setPending(_ block: Int) { states[block] = .pending }

    private func blocks(_ start: UInt64, _ end: UInt64) -> ClosedRange<Int> {
        Int(start / blockBytes)...Int((end - 1) / blockBytes)
    }

    /// Whether a write of `[start, end)` (non-empty) may start now.
    func admit(_ start: UInt64, _ end: UInt64) -> Admission {
        var mirror = false
        for b in blocks(start, end) {
            switch states[b] {
            case .claimed: return .wait
            case .done: mirror = true
            case .pending: break
            }
        }
        if mirror && mirrored.contains(where: { $0.start < end && start < $0.end }) { return .wait }
        return .start(mirror: mirror)
    }

    /// Records an admitted write as in flight.
    func register(_ start: UInt64, _ end: UInt64, mirror: Bool, owner: ObjectIdentifier) {
        for b in blocks(start, end) { activeWrites[b] += 1 }
        if mirror { mirrored.append((start, end, owner)) }
    }

    /// Records that a registered write completed.
    func release(_ start: UInt64, _ end: UInt64, mirror: Bool, owner: ObjectIdentifier) {
        for b in blocks(start, end) {
            precondition(activeWrites[b] > 0, "merge interlock: block \(b) released more often than registered")
            activeWrites[b] -= 1
        }
        if mirror, let i = mirrored.firstIndex(where: { $0.owner == owner }) { mirrored.remove(at: i) }
    }

    /// The copier takes a pending block; true when no write is in flight on it (copy now).
    func claim(_ block: Int) -> Bool {
        precondition(states[block] == .pending, "merge interlock: claiming block \(block) in state \(states[block])")
        states[block] = .claimed
        return activeWrites[block] == 0
    }

    /// The copier finished a claimed block: its writes are mirrored from now on.
    func finish(_ block: Int) {
        precondition(states[block] == .claimed, "merge interlock: finishing unclaimed block \(block)")
        states[block] = .done
    }
}
