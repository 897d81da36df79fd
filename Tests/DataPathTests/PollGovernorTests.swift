@testable import DataPath
import Glibc
import Testing

/// The busy-poll governor: polls while the loop thread's run delay stays low, stops for a
/// doubling backoff when another task wants the CPU, and tries again afterwards.
@Suite("Poll governor")
struct PollGovernorTests {
    /// Run-delay and host-idle counters the test advances by hand.
    final class Clock {
        var delay: UInt64 = 0
        var idle: UInt64 = 0
    }

    static let window = PollGovernor.windowNanoseconds
    static let second: UInt64 = 1_000_000_000

    /// Drives the governor through 20 windows with the given waiting and idle time in each;
    /// returns how often it suspended polling.
    static func suspensions(delayPerWindow: UInt64, idlePerWindow: UInt64) -> Int {
        let clock = Clock()
        var governor = PollGovernor(runDelay: { clock.delay }, idle: { clock.idle })
        var now: UInt64 = 5 * second
        for _ in 0..<40 {
            _ = governor.mayPoll(now: now)
            now += window / 2
            clock.delay += delayPerWindow / 2
            clock.idle += idlePerWindow / 2
        }
        return governor.suspensions
    }

    @Test("a CPU nobody else wants: polling goes on window after window")
    func quietHostKeepsPolling() {
        #expect(Self.suspensions(delayPerWindow: Self.window / 100, idlePerWindow: 0) == 0)
    }

    @Test("a client packed onto the loop's CPU while another CPU idles: polling goes on")
    func packedClientKeepsPolling() {
        // Waiting for the client 20% of the time, while a whole CPU idles.
        #expect(Self.suspensions(delayPerWindow: Self.window / 5, idlePerWindow: Self.window) == 0)
    }

    @Test("waiting for a CPU that others keep busy: polling stops")
    func busyHostStopsPolling() {
        #expect(Self.suspensions(delayPerWindow: Self.window / 5, idlePerWindow: Self.window / 10) > 0)
    }

    @Test("contention suspends polling for a backoff that doubles, and a quiet window resets it")
    func contentionBacksOff() {
        let clock = Clock()
        var governor = PollGovernor(runDelay: { clock.delay }, idle: { clock.idle })
        var now: UInt64 = 5 * Self.second
        let polls2 = governor.mayPoll(now: now)
        #expect(polls2)
        // A window where another task kept this thread waiting 30% of the time.
        now += Self.window
        clock.delay += Self.window * 3 / 10
        let polls3 = governor.mayPoll(now: now)
        #expect(!polls3)
        #expect(governor.suspensions == 1)
        let polls4 = governor.mayPoll(now: now + Self.second - 1)
        #expect(!polls4)
        // After the first backoff (1 s) it tries again; still contended: 2 s this time.
        now += Self.second
        let polls5 = governor.mayPoll(now: now)
        #expect(polls5)
        now += Self.window
        clock.delay += Self.window / 2
        let polls6 = governor.mayPoll(now: now)
        #expect(!polls6)
        let polls7 = governor.mayPoll(now: now + 2 * Self.second - 1)
        #expect(!polls7)
        now += 2 * Self.second
        let polls8 = governor.mayPoll(now: now)
        #expect(polls8)
        // A quiet window: polling stays on and the backoff is back to its minimum.
        now += Self.window
        let polls9 = governor.mayPoll(now: now)
        #expect(polls9)
        now += Self.window
        clock.delay += Self.window
        let polls10 = governor.mayPoll(now: now)
        #expect(!polls10)
        let polls11 = governor.mayPoll(now: now + Self.second - 1)
        #expect(!polls11)
        let polls12 = governor.mayPoll(now: now + Self.second)
        #expect(polls12)
    }

    @Test("without schedstat the governor does not stand in the way")
    func unknownRunDelayPolls() {
        var governor = PollGovernor(runDelay: { nil }, idle: { nil })
        var now: UInt64 = Self.second
        for _ in 0..<10 {
            let polls13 = governor.mayPoll(now: now)
            #expect(polls13)
            now += Self.window
        }
    }

    @Test("the governor's sources parse this kernel's /proc")
    func readsProc() throws {
        // The thread's run delay: where the kernel keeps schedstats, it must parse (a missing
        // file only disables the governor's contention check).
        if access("/proc/thread-self/schedstat", R_OK) == 0 {
            let delay = try #require(PollGovernor.threadRunDelay())
            #expect(delay < UInt64.max / 2)
        }
        // The host's idle time: always there on Linux, and it only grows.
        let before = try #require(PollGovernor.hostIdle())
        usleep(30_000)
        let after = try #require(PollGovernor.hostIdle())
        #expect(after >= before)
    }
}
