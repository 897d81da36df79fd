import Logging
import Synchronization

/// The BlockIO layer's log: which engine serves I/O, and why a fallback was taken.
/// Each distinct message is logged once per process, however many stores are opened.
enum IOEngineLog {
    static let logger = Logger(label: "storage.io")
    private static let seen = Mutex<Set<String>>([])

    static func note(_ message: String) {
        let isNew = seen.withLock { $0.insert(message).inserted }
        if isNew { logger.info("\(message)") }
    }
}
