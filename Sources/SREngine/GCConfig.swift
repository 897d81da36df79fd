import Foundation
import Glibc

/// How an operation that may leave garbage (VDI destroy, SR scan) starts the collector.
public enum GCKick: String, Sendable, CaseIterable {
    /// Nothing: the operator or a timer runs `collectGarbage` (the engine's default, so
    /// library callers and tests see exactly the tree their operations made).
    case none
    /// Run the collector in this process before returning, as SM's `gc_force` does; if
    /// another collector holds the SR's GC lock this returns at once (that one loops until
    /// no work is left, so it also picks up what this operation left).
    case synchronous
    /// Start the background worker (`EngineOptions.backgroundWorker`, `sm-gc`) and return
    /// at once, as SM's `cleanup.py -b`. Without a worker this is `synchronous`.
    case background
}

/// SR other-config and VDI sm-config keys that steer the collector, as SM names them.
public enum GCConfigKey {
    /// SR other-config `gc=false`: the collector does nothing on this SR.
    public static let gc = "gc"
    /// SR other-config `coalesce=false`: garbage is still removed, nothing is merged.
    public static let coalesce = "coalesce"
    /// SR other-config or VDI sm-config `leaf-coalesce=false`: leaves are not merged.
    public static let leafCoalesce = "leaf-coalesce"
    /// VDI sm-config `host_<ref>`: SM's mark of a VDI attached on a host. Such a leaf is
    /// not merged offline (its VDI lock alone does not show an attachment by the daemon).
    public static let attachedPrefix = "host_"

    static func isOff(_ config: [String: String], _ key: String) -> Bool {
        config[key].map { $0.lowercased() == "false" } ?? false
    }
}

extension StorageRepository {
    /// Held by the one collector running on the SR (SM's `gc_active`); next to the SR lock.
    func gcLock() -> LockFile { LockFile(path: FileSystem.dirname(srLock().path) + "/gc") }

    /// Created to ask the running collector to stop (SM's `/run/sm/ipc/<sr>/abort`); the
    /// collector polls it between steps and while copying, and removes it when it stops.
    var gcAbortFlagPath: String { FileSystem.dirname(srLock().path) + "/gc-abort" }
}

extension AttachedSR {
    /// Asks the collector running on this SR (in any process) to stop at its next step
    /// boundary or copy chunk. An interrupted merge is rolled back; the data stays as it was.
    public func requestGCAbort() throws {
        let path = repository.gcAbortFlagPath
        try FileSystem.makeDirectories(FileSystem.dirname(path))
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.fail("open", path) }
        close(fd)
    }

    var gcAbortRequested: Bool { FileSystem.exists(repository.gcAbortFlagPath) }

    /// Turns the collector on or off for this SR (other-config `gc`).
    public func setGCEnabled(_ enabled: Bool) throws {
        try withSRLock {
            try updateMetadata { meta in
                if enabled { meta.sr.otherConfig[GCConfigKey.gc] = nil } else { meta.sr.otherConfig[GCConfigKey.gc] = "false" }
            }
        }
    }

    /// Sets (or with nil removes) one SR other-config key.
    public func setSROtherConfig(_ key: String, _ value: String?) throws {
        try Self.validateName(key)
        try value.map(Self.validateName)
        try withSRLock { try updateMetadata { $0.sr.otherConfig[key] = value } }
    }

    /// Runs the collector if `options.gcKick` says so. A kick never fails the operation that
    /// made the garbage: what the collector could not do stays for the next run.
    func kickGarbageCollector() {
        switch options.gcKick {
        case .none: return
        case .background where options.backgroundWorker != nil: startBackgroundWorker()
        case .synchronous, .background: _ = try? collectGarbage()
        }
    }

    /// Starts `sm-gc` for this SR: it refills the blank pool, then (unless `blanksOnly`)
    /// collects garbage. A kick that cannot start the worker is logged to stderr only; the
    /// next kick tries again.
    func startBackgroundWorker(blanksOnly: Bool = false) {
        guard let worker = options.backgroundWorker else { return }
        var arguments = [worker.executable, "--sr", uuid, "--type", repository.typeName]
        if blanksOnly { arguments.append("--blanks-only") }
        for (key, value) in deviceConfig.sorted(by: { $0.key < $1.key }) { arguments += ["--device-config", "\(key)=\(value)"] }
        if let lockDirectory = options.lockDirectory { arguments += ["--lock-dir", lockDirectory] }
        let log = FileSystem.dirname(repository.srLock().path) + "/gc.log"
        do {
            _ = try DetachedProcess.spawn(arguments, logPath: log, truncateLog: false)
        } catch {
            FileHandle.standardError.write(Data("cannot start the background collector \(worker.executable): \(error)\n".utf8))
        }
    }
}
