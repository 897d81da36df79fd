import Glibc

/// Host-side settings of the engine: where locks live, how free space is measured, and a
/// hook between the steps of multi-step operations.
public struct EngineOptions: Sendable {
    /// See `SRContext.lockDirectory`.
    public var lockDirectory: String?
    public var freeSpace: FreeSpaceProbe
    /// Called with a step's name (`snapshot.link`, `destroy.unlink`, ...) just before the
    /// step runs. Tests use it to stop an operation at every step boundary: by throwing
    /// (in process) or by killing the process.
    public var stepHook: (@Sendable (String) throws -> Void)?
    /// What `destroyVDI` and `scan` do to start the garbage collector afterwards.
    public var gcKick: GCKick
    /// The background worker `gcKick = .background` starts, and that refills the blank pool.
    public var backgroundWorker: BackgroundWorker?
    /// Blanks (preformatted images, `VHDBlank`) an SR keeps for snapshot and clone; 0 turns the pool off.
    public var blankPoolTarget = SRLimits.blankPoolTarget
    /// Pauses the daemon serving a VDI around snapshot, clone and resize (nil: none is served).
    public var dataPath: (any DataPathControl)?

    public init(lockDirectory: String? = nil, freeSpace: FreeSpaceProbe = .statvfs,
                stepHook: (@Sendable (String) throws -> Void)? = nil, gcKick: GCKick = .none,
                blankPoolTarget: Int = SRLimits.blankPoolTarget) {
        self.blankPoolTarget = blankPoolTarget
        self.lockDirectory = lockDirectory
        self.freeSpace = freeSpace
        self.stepHook = stepHook
        self.gcKick = gcKick
    }

    var context: SRContext { SRContext(lockDirectory: lockDirectory, freeSpace: freeSpace) }
}

/// How to start `sm-gc`, the per-SR background worker (SM's `cleanup.py -b`).
public struct BackgroundWorker: Sendable {
    public var executable: String
    public init(executable: String) { self.executable = executable }

    /// `sm-gc` installed next to the running executable, if it is there.
    public static func besideSelf() -> BackgroundWorker? {
        guard let dir = DetachedProcess.ownDirectory(), access(dir + "/sm-gc", X_OK) == 0 else { return nil }
        return BackgroundWorker(executable: dir + "/sm-gc")
    }
}
