import DataPath
import Foundation
import Glibc
import ImageFormats
import StorageIO

/// A merge fixture's chain served by an in-process NBD server, with commands run on its
/// loop: start the merge, publish its status, and whatever a test adds.
struct MergeServer {
    enum Command {
        static let start: UInt8 = 1
        static let status: UInt8 = 2
    }

    let harness: ServerHarness
    let commands: LoopCommands
    let status: Box<LeafMergeStatus?>
    let startError: Box<String?>

    /// Serves `fixture`'s leaf. `leafStore` may wrap the leaf's store; `parentStore` opens
    /// the merge's writable parent store (default: the parent's path); `extra` adds commands.
    init(_ fixture: MergeFixture, dir: ScratchDirectory,
         leafStore: (@Sendable (any BlockIO) -> any BlockIO)? = nil,
         parentStore: (@Sendable (EventLoop) throws -> any BlockIO)? = nil,
         extra: (@Sendable (DiskImageExport) -> [UInt8: () -> Void])? = nil) throws {
        let commands = LoopCommands()
        let status = Box<LeafMergeStatus?>(nil)
        let startError = Box<String?>(nil)
        let leafPath = fixture.leafPath, parentPath = fixture.parentPath
        harness = try ServerHarness(directory: dir, setup: { loop in
            let chain = try ImageChain.open(leafPath, readOnly: false) { path, readOnly in
                let store = try LocalFile.open(path, on: loop, options: .init(readOnly: readOnly))
                return path == leafPath ? (leafStore?(store) ?? store) : store
            }
            let export = DiskImageExport(image: chain)
            var handlers: [UInt8: () -> Void] = [
                Command.start: {
                    do {
                        let progress = { (s: LeafMergeStatus) in status.set(s) }
                        if let parentStore {
                            try export.startLeafMerge(parent: try parentStore(loop), progress: progress)
                        } else {
                            try export.startLeafMerge(parentPath: parentPath, progress: progress)
                        }
                    } catch {
                        startError.set("\(error)")
                    }
                },
                Command.status: { status.set(export.leafMergeStatus) },
            ]
            if let extra { handlers.merge(extra(export)) { $1 } }
            commands.attach(to: loop, handlers)
            return [ServedExport(name: "vdi", backend: export)]
        }, teardown: { commands.detach() })
        self.commands = commands
        self.status = status
        self.startError = startError
    }

    var socketPath: String { harness.socketPath }

    func startMerge() -> Bool { commands.fire(Command.start) && startError.get() == nil }

    /// The merge's status, read on the loop now.
    func refresh() -> LeafMergeStatus? {
        commands.fire(Command.status)
        return status.get()
    }

    /// Waits (bounded) until the merge reaches one of `phases`; its last status.
    func wait(for phases: Set<LeafMergePhase>, seconds: Double) -> LeafMergeStatus? {
        _ = waitUntil(seconds: seconds) { status.get().map { phases.contains($0.phase) } ?? false }
        return status.get()
    }

    /// Stops the server (the export closes: a converged merge completes).
    func stop() { harness.stop() }
}

/// Whether the client's socket gets a byte within `milliseconds` (a reply arrived).
func replyArrives(_ client: RawClient, milliseconds: Int32) -> Bool {
    var p = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
    return poll(&p, 1, milliseconds) > 0
}
