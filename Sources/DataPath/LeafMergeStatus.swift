/// The phases of a live leaf-merge (see `LiveLeafMerge`).
public enum LeafMergePhase: String, Sendable, Equatable {
    /// Waiting, a moment, for writes started before the merge to finish; new ones wait.
    case quiescing
    /// Copying the leaf's blocks into the parent; writes to copied blocks are mirrored.
    case copying
    /// Converged: the parent holds everything the leaf holds; every write is mirrored.
    case mirroring
    /// The export closed (paused) after converging and the parent is flushed: swap it in.
    case complete
    /// Stopped (a parent write failed, the leaf failed, aborted, closed before converging):
    /// mirroring stopped and the leaf stays authoritative; the parent only holds extra
    /// copies of sectors the leaf covers, so its visible content is unchanged.
    case failed
}

/// Where a live leaf-merge stands: for the control socket's stats and the engine's swap.
public struct LeafMergeStatus: Sendable, Equatable {
    public var phase: LeafMergePhase
    /// The parent's path (or store name) the merge writes into.
    public var parentPath: String
    /// Blocks the leaf held when copying began, and those copied so far.
    public var blocksTotal = 0
    public var blocksCopied = 0
    /// Sector data copied from the leaf (allocated runs only).
    public var bytesCopied: UInt64 = 0
    /// Guest writes mirrored into the parent, and writes that waited on the interlock.
    public var writesMirrored: UInt64 = 0
    public var writesWaited: UInt64 = 0
    /// Why the merge failed.
    public var failure: String?
    /// Time from the start to convergence (nil until converged).
    public var convergedAfterNanoseconds: UInt64?

    public init(phase: LeafMergePhase, parentPath: String) {
        self.phase = phase
        self.parentPath = parentPath
    }
}

/// Why a live leaf-merge cannot start.
public enum LeafMergeError: Error, Equatable, CustomStringConvertible {
    /// The export is not a chain of a writable VHD leaf over a VHD parent.
    case notALeafOverParent(image: String, detail: String)
    case alreadyRunning(image: String, phase: LeafMergePhase)
    /// The file given as the parent is not the leaf's parent.
    case parentMismatch(path: String, expected: String, found: String)
    case parentReadOnly(path: String)
    case sizeMismatch(path: String, leafBytes: UInt64, parentBytes: UInt64)

    public var description: String {
        switch self {
        case let .notALeafOverParent(image, detail): "\(image): no live leaf-merge here: \(detail)"
        case let .alreadyRunning(image, phase): "\(image): a leaf-merge is already \(phase.rawValue)"
        case let .parentMismatch(path, expected, found): "\(path) is not the leaf's parent: its uuid is \(found), the leaf names \(expected)"
        case let .parentReadOnly(path): "\(path): the parent cannot be opened for writing"
        case let .sizeMismatch(path, leaf, parent): "\(path): the parent's virtual size \(parent) differs from the leaf's \(leaf)"
        }
    }
}

/// The live leaf-merge's limits.
public enum LeafMergeLimits {
    /// Blocks copied at once when the guest is idle: each holds one block buffer (2 MiB for
    /// VHD's default block). Measured (1 GiB leaf, this machine): 4 copy at ~760 MB/s, 1 at ~430.
    public static let chunksInFlight = 4
    /// Blocks copied at once while guest writes are in flight: big copy I/Os queue ahead of
    /// the guest's small ones (4 in flight cut a QD32 writer to ~6% of its rate, 1 to ~22%).
    public static let chunksInFlightUnderLoad = 1
    /// Runs of one block closer than this in the leaf's file are read in one I/O, gap included.
    public static let readGapBytesMax: UInt64 = 64 << 10
    /// Slack around a block buffer for aligning its reads (the largest O_DIRECT alignment).
    public static let alignmentBytesMax = 4096
}
