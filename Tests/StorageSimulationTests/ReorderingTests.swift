import StorageIO
import Testing
@testable import StorageSimulation

/// Delay and reordering change when and in what order requests complete, never whether.
@Suite struct ReorderingTests {
    /// Submits `count` requests at once and returns the tags in completion order.
    private func completionOrder(plan: FaultPlan, seed: UInt64, count: Int = 64) throws -> [Int] {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 64 * 512, seed: seed, loop: loop, faults: plan)
        let buffer = TestBuffer(count: count * 512)
        var order: [Int] = []
        var requests: [IORequest] = []
        for index in 0..<count {
            let operation: IOOperation = index % 3 == 0 ? .read : (index % 7 == 0 ? .flush : .write)
            let request = operation == .flush ? IORequest(.flush)
                : IORequest(operation, buffer: buffer.pointer + index * 512, length: 512, offset: UInt64(index * 512))
            request.tag = index
            request.onComplete = { order.append($0.tag) }
            requests.append(request)
            disk.submit(request)
        }
        #expect(order.isEmpty, "nothing completes inside submit")
        loop.run { requests.allSatisfy(\.isComplete) }
        spin(loop, turns: 10) // nothing more may arrive
        #expect(requests.allSatisfy { $0.failure == nil })
        #expect(disk.inFlightCount == 0)
        return order
    }

    @Test func reorderingReordersButCompletesEachRequestOnce() throws {
        let order = try completionOrder(plan: FaultPlan().delaying(maxTurns: 4, reorder: true), seed: 17)
        #expect(order.count == 64, "each request completes exactly once")
        #expect(Set(order).count == 64)
        #expect(order != Array(0..<64), "completions came back in submission order")
    }

    @Test func reorderWithinATurnAloneAlsoReorders() throws {
        let order = try completionOrder(plan: FaultPlan().delaying(maxTurns: 0, reorder: true), seed: 18)
        #expect(order.sorted() == Array(0..<64))
        #expect(order != Array(0..<64))
    }

    @Test func withoutAPlanCompletionsAreFIFO() throws {
        #expect(try completionOrder(plan: .none, seed: 19) == Array(0..<64))
    }

    @Test func delayedCompletionsTakeSeveralTurns() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 4096, seed: 4, loop: loop, faults: FaultPlan().delaying(maxTurns: 5, reorder: false))
        let requests = (0..<16).map { _ in IORequest(.flush) }
        for request in requests { disk.submit(request) }
        var turns = 0
        while !requests.allSatisfy(\.isComplete) {
            loop.runOnce(timeoutNanoseconds: 0)
            turns += 1
            #expect(turns < 50)
        }
        #expect(turns > 1, "every request completed on the first turn despite the delay")
    }

    /// A completion handler may submit again; the new request completes on a later turn.
    @Test func handlersMaySubmitAgain() throws {
        let loop = try makeLoop()
        let disk = SimulatedDisk(size: 4096, seed: 4, loop: loop, faults: FaultPlan().delaying(maxTurns: 2))
        var completions = 0
        let request = IORequest(.flush)
        request.onComplete = { done in
            completions += 1
            if completions < 10 { disk.submit(done) }
        }
        disk.submit(request)
        loop.run { completions == 10 }
        #expect(request.isComplete)
    }
}
