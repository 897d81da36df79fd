/// How the server trades CPU for latency. The defaults suit a shared host; the benchmarks
/// in the report say when to change them.
public struct NBDServerConfiguration: Sendable, Equatable {
    /// After the last event, keep polling the ring this long before sleeping (0: never
    /// poll). Waking a halted vCPU costs about as much as a 4 KiB read, so a short poll
    /// window cuts the latency of back-to-back requests at the price of CPU while busy.
    public var pollNanoseconds: Int64
    /// Send the replies completed in one loop turn together (one sendmsg), rather than
    /// each as it completes. Fewer syscalls and client wake-ups; slightly later replies.
    public var coalesceReplies: Bool
    /// A client that has not finished negotiating after this long is disconnected, so idle
    /// connections cannot use up `DataPathLimits.connectionsMax`.
    public var negotiationTimeoutNanoseconds: Int64

    public init(pollNanoseconds: Int64 = 0, coalesceReplies: Bool = true,
                negotiationTimeoutNanoseconds: Int64 = DataPathLimits.negotiationTimeoutNanoseconds) {
        precondition(pollNanoseconds >= 0 && pollNanoseconds <= DataPathLimits.pollNanosecondsMax,
                     "poll window out of range")
        self.pollNanoseconds = pollNanoseconds
        self.coalesceReplies = coalesceReplies
        precondition(negotiationTimeoutNanoseconds > 0, "negotiation timeout must be positive")
        self.negotiationTimeoutNanoseconds = negotiationTimeoutNanoseconds
    }
}

/// What one connection did, for the log line at its close.
struct ConnectionStats {
    var requests = 0
    /// Sum over requests of the number in flight when each was submitted.
    var inflightSum = 0
    var recvCalls = 0
    var sendCalls = 0

    var description: String {
        let depth = requests == 0 ? 0 : Double(inflightSum) / Double(requests)
        return "\(requests) requests, mean depth \(Int(depth * 10) / 10), \(recvCalls) recv, \(sendCalls) sendmsg"
    }
}
