import Glibc

/// XenServer's soft-mount semantics for user-space NFS: no call waits forever.
///
/// Each RPC times out after `timeo` (deciseconds, as mount(8) spells it); a call that fails
/// for a transport reason (timeout, connection lost or refused) is retried with a short
/// backoff, and gives up with a clear error once `timeo × (retrans + 1)` has passed since
/// its first attempt. A server that restarts within that window loses nothing; one that
/// stays away fails requests within it. Errors the server returns are never retried.
public struct NFSSoftMount: Sendable, Equatable {
    public var timeoDeciseconds: Int
    public var retrans: Int

    public init(timeoDeciseconds: Int = NFSLimits.timeoDecisecondsDefault, retrans: Int = NFSLimits.retransDefault) {
        self.timeoDeciseconds = timeoDeciseconds
        self.retrans = retrans
    }

    /// Reads `timeo=` and `retrans=` from a mount option string (`soft,timeo=50,retrans=2`);
    /// other options are ignored, as they mean nothing to libnfs.
    public init(options: String) throws {
        self.init()
        for item in options.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "timeo": timeoDeciseconds = try Self.number(parts[1], key: "timeo", range: NFSLimits.timeoDecisecondsRange)
            case "retrans": retrans = try Self.number(parts[1], key: "retrans", range: NFSLimits.retransRange)
            default: continue
            }
        }
    }

    static func number(_ text: String, key: String, range: ClosedRange<Int>) throws -> Int {
        guard let n = Int(text), range.contains(n) else {
            throw NFSError.invalidConfig(key: "options", detail: "\(key)=\(text) is not a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    /// One RPC's timeout.
    public var rpcTimeoutMilliseconds: Int32 { Int32(timeoDeciseconds * 100) }

    /// How long a call may keep retrying before it fails.
    public var deadlineNanoseconds: UInt64 { UInt64(timeoDeciseconds) * 100_000_000 * UInt64(retrans + 1) }

    public var deadlineSeconds: Double { Double(deadlineNanoseconds) / 1e9 }

    /// The backoff after `previous` (0 for the first retry).
    static func nextBackoff(_ previous: UInt64) -> UInt64 {
        previous == 0 ? NFSLimits.retryBackoffNanosecondsMin : min(previous * 2, NFSLimits.retryBackoffNanosecondsMax)
    }

    /// libnfs reports a transport failure as -EFAULT (RPC error: connection lost, refused,
    /// reconnect failed) or -EINTR (RPC timed out or was cancelled); any other errno is the
    /// server's answer and final.
    static func isTransportFailure(_ negativeErrno: Int32) -> Bool {
        negativeErrno == -EFAULT || negativeErrno == -EINTR
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

extension Substring {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
