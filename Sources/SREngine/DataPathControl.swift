/// The data path as the engine sees it: something that can pause the daemon serving a VDI
/// (drain its requests, close its image) and unpause it on the VDI's image again, which a
/// snapshot, clone or resize may have replaced. TapControl implements it over the daemon's
/// control socket; the engine knows nothing of sockets or processes.
public protocol DataPathControl: Sendable {
    /// Pauses the daemon serving `vdi` of SR `sr`, if one does; true when one did (and then
    /// `unpause` must follow). Returns once the daemon has closed the image.
    func pause(sr: String, vdi: String) throws -> Bool
    /// Resumes a daemon `pause` paused, serving the image at `path`.
    func unpause(sr: String, vdi: String, path: String) throws
    /// True while a daemon serves `vdi`: it is then merged online, not offline.
    func isServed(sr: String, vdi: String) -> Bool
    /// Runs `body` (an operation that removes `vdi`'s image) only if no daemon serves the VDI,
    /// and keeps one from starting until `body` returns; else throws VDIInUse.
    func unlessServed<T>(sr: String, vdi: String, _ body: () throws -> T) throws -> T
    /// Asks the daemon serving leaf `vdi` to merge it into its parent at `parentPath` while
    /// serving (guest writes mirrored, so it converges under any write load).
    func startLeafMerge(sr: String, vdi: String, parentPath: String) throws
    /// Where that merge stands; nil when the daemon has none.
    func leafMergeState(sr: String, vdi: String) throws -> LiveMergeState?
    func abortLeafMerge(sr: String, vdi: String) throws
}

/// A live leaf-merge as the engine follows it.
public struct LiveMergeState: Sendable, Equatable {
    public enum Phase: String, Sendable {
        /// Starting or copying: not converged yet.
        case quiescing, copying
        /// Converged: every write is mirrored into the parent; pause to swap it in.
        case mirroring
        /// Paused after converging: the parent is flushed and complete.
        case complete
        case failed
    }
    public var phase: Phase
    public var blocksTotal: Int
    public var blocksCopied: Int
    public var bytesCopied: UInt64
    public var failure: String?

    public init(phase: Phase, blocksTotal: Int, blocksCopied: Int, bytesCopied: UInt64, failure: String?) {
        self.phase = phase
        self.blocksTotal = blocksTotal
        self.blocksCopied = blocksCopied
        self.bytesCopied = bytesCopied
        self.failure = failure
    }
}

extension AttachedSR {
    /// Runs `body` (an operation that replaces `vdi`'s image file) with the VDI's data path
    /// paused, then unpauses it on the VDI's image, whether `body` succeeded or not: after a
    /// failure the journal has put the old image back (or finished the operation).
    func withDataPathPaused<T>(_ vdi: String, _ body: () throws -> T) throws -> T {
        try withDataPathsPaused([vdi], body)
    }

    /// The same for several VDIs (the served leaves below an image a coalesce removes, so
    /// their daemons reopen the shorter chain and let go of the removed file).
    func withDataPathsPaused<T>(_ vdis: [String], _ body: () throws -> T) throws -> T {
        guard let control = options.dataPath else { return try body() }
        var paused: [String] = []
        func unpauseAll() throws {
            for vdi in paused { try control.unpause(sr: uuid, vdi: vdi, path: repository.dataPathLocation(of: VolumeName.image(vdi))) }
        }
        let result: T
        do {
            for vdi in vdis where try control.pause(sr: uuid, vdi: vdi) { paused.append(vdi) }
            result = try body()
        } catch {
            // The operation's own error is the one to report; a failed unpause is reported
            // by the daemon's state (paused) and its log.
            try? unpauseAll()
            throw error
        }
        try unpauseAll()
        return result
    }

    /// Runs `body` unless a daemon serves `vdi` (then VDIInUse), no attach starting meanwhile.
    func unlessServed<T>(_ vdi: String, _ body: () throws -> T) throws -> T {
        guard let control = options.dataPath else { return try body() }
        return try control.unlessServed(sr: uuid, vdi: vdi, body)
    }
}
