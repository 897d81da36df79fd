import CURing

/// When the kernel runs an io_uring's completion work (the task work that turns a finished
/// request into a CQE), which decides how often a completion interrupts or wakes the loop.
public enum RingMode: String, Sendable, CaseIterable {
    /// The kernel's default: completion work interrupts the thread (an IPI while it runs).
    case standard
    /// Completion work waits for the thread's next syscall instead of interrupting it
    /// (IORING_SETUP_COOP_TASKRUN with TASKRUN_FLAG, so a peek knows to enter).
    case cooperative
    /// Completion work runs only when the loop asks for events, in one batch
    /// (IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN). Only the thread that made the loop may
    /// use it: a loop handed to another thread fails its submissions.
    case deferred

    var setupFlags: UInt32 {
        switch self {
        case .standard: return 0
        case .cooperative: return UInt32(IORING_SETUP_COOP_TASKRUN) | UInt32(IORING_SETUP_TASKRUN_FLAG)
        case .deferred: return UInt32(IORING_SETUP_SINGLE_ISSUER) | UInt32(IORING_SETUP_DEFER_TASKRUN)
        }
    }
}
