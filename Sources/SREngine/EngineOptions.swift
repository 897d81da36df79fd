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

    public init(lockDirectory: String? = nil, freeSpace: FreeSpaceProbe = .statvfs,
                stepHook: (@Sendable (String) throws -> Void)? = nil, gcKick: GCKick = .none) {
        self.lockDirectory = lockDirectory
        self.freeSpace = freeSpace
        self.stepHook = stepHook
        self.gcKick = gcKick
    }

    var context: SRContext { SRContext(lockDirectory: lockDirectory, freeSpace: freeSpace) }
}
