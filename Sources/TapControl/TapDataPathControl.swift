import Foundation
import SREngine
import Synchronization

/// The engine's `DataPathControl` over daemons started by `DataPathLauncher`: pause through
/// the VDI's control socket, unpause with the VDI's (new) image.
///
/// From pause to unpause it holds the VDI's data-path lock, so no attach, detach or other
/// pause of that VDI runs while its image is being replaced.
public final class TapDataPathControl: DataPathControl, @unchecked Sendable {
    public let runDirectory: String
    /// Locks held by paused VDIs, by `<sr>/<vdi>`.
    private let held = Mutex<[String: LockFile]>([:])

    public init(runDirectory: String) {
        self.runDirectory = runDirectory
    }

    public func pause(sr: String, vdi: String) throws -> Bool {
        let launcher = DataPathLauncher(runDirectory: runDirectory, sr: sr, vdi: vdi)
        // Nothing served, or a directory we may not use: nothing to pause.
        guard FileManager.default.fileExists(atPath: launcher.pidPath) else { return false }
        let lock = try launcher.acquireLock()
        guard launcher.runningPID() != nil else {
            lock.release()
            return false
        }
        do {
            try controlled(sr, vdi, "pausing its data path") { try $0.pause() }
        } catch {
            lock.release()
            throw error
        }
        held.withLock { $0["\(sr)/\(vdi)"] = lock }
        return true
    }

    public func unpause(sr: String, vdi: String, path: String) throws {
        let lock = held.withLock { $0.removeValue(forKey: "\(sr)/\(vdi)") }
        defer { lock?.release() }
        try controlled(sr, vdi, "unpausing its data path on \(path)") { try $0.unpause(path: path) }
    }

    public func isServed(sr: String, vdi: String) -> Bool {
        DataPathLauncher(runDirectory: runDirectory, sr: sr, vdi: vdi).runningPID() != nil
    }

    public func unlessServed<T>(sr: String, vdi: String, _ body: () throws -> T) throws -> T {
        let launcher = DataPathLauncher(runDirectory: runDirectory, sr: sr, vdi: vdi)
        return try launcher.exclusively {
            if launcher.runningPID() != nil { throw SREngineError.vdiInUse(uuid: vdi) }
            return try body()
        }
    }

    public func startLeafMerge(sr: String, vdi: String, parentPath: String) throws {
        try controlled(sr, vdi, "starting its live leaf-merge") { try $0.merge(parentPath: parentPath) }
    }

    public func leafMergeState(sr: String, vdi: String) throws -> LiveMergeState? {
        let info = try controlled(sr, vdi, "reading its live leaf-merge") { try $0.list().first?.merge }
        return info.map { m in
            LiveMergeState(phase: LiveMergeState.Phase(rawValue: m.phase) ?? .failed, blocksTotal: m.blocksTotal,
                           blocksCopied: m.blocksCopied, bytesCopied: m.bytesCopied,
                           failure: m.failure ?? (LiveMergeState.Phase(rawValue: m.phase) == nil ? "unknown phase \(m.phase)" : nil))
        }
    }

    public func abortLeafMerge(sr: String, vdi: String) throws {
        try controlled(sr, vdi, "aborting its live leaf-merge") { try $0.abortMerge() }
    }

    /// A control call to the daemon serving `vdi`, its failure as VDIUnavailable.
    private func controlled<T>(_ sr: String, _ vdi: String, _ what: String, _ body: (TapControlClient) throws -> T) throws -> T {
        do {
            return try body(DataPathLauncher(runDirectory: runDirectory, sr: sr, vdi: vdi).control)
        } catch {
            throw SREngineError.vdiUnavailable(uuid: vdi, detail: "\(what) failed: \(error)")
        }
    }
}
