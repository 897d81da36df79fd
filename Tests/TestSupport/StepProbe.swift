import SREngine
import Synchronization

/// Thrown by a step hook: the operation stops there, as if the process had died.
public struct SimulatedCrash: Error {
    public init() {}
}

/// Records the names of an engine operation's journal steps, or stops it before step
/// `crashAt` (0-based) by throwing `SimulatedCrash`.
public final class StepProbe: Sendable {
    public let names = Mutex<[String]>([])
    public let crashAt: Int?

    public init(crashAt: Int?) { self.crashAt = crashAt }

    public var options: EngineOptions {
        EngineOptions(stepHook: { name in
            let count = self.names.withLock { $0.append(name); return $0.count }
            if let c = self.crashAt, count == c + 1 { throw SimulatedCrash() }
        })
    }
}
