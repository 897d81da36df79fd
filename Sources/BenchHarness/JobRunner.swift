import Foundation
import LoadGenerator
import StorageIO
import Synchronization

/// Runs jobs as fio does: every job of a group at once, each numjobs instance on a thread of
/// its own with its own event loop and its own open of the target; `stonewall` starts a new
/// group that waits for the previous one.
public final class JobRunner: Sendable {
    /// Live figures of every running instance, for the progress line.
    final class LiveFigures: Sendable {
        let byInstance = Mutex<[String: WorkloadResult]>([:])
    }

    let live = LiveFigures()

    /// Where `vdi=` targets find the host registry (`SM_REGISTRY`) and locks (`SM_LOCK_DIR`).
    let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func run(_ jobs: [JobSpec], progress: ((String) -> Void)? = nil) throws -> [JobOutcome] {
        for job in jobs where job.target == nil { throw JobFileError.noTarget(job: job.name) }
        var outcomes: [JobOutcome] = []
        for (groupID, group) in groups(jobs).enumerated() {
            outcomes += runGroup(group, groupID: groupID, progress: progress)
        }
        return outcomes
    }

    private func groups(_ jobs: [JobSpec]) -> [[JobSpec]] {
        var groups: [[JobSpec]] = []
        for job in jobs {
            if job.stonewall || groups.isEmpty { groups.append([job]) } else { groups[groups.count - 1].append(job) }
        }
        return groups
    }

    private func runGroup(_ group: [JobSpec], groupID: Int, progress: ((String) -> Void)?) -> [JobOutcome] {
        let results = Collected()
        let all = DispatchGroup()
        var order = 0
        for job in group {
            for instance in 0..<job.numJobs {
                let slot = order
                order += 1
                let key = "\(job.name).\(instance)"
                all.enter()
                let thread = Thread { [self] in
                    let outcome = runInstance(job, instance: instance, groupID: groupID, key: key)
                    results.outcomes.withLock { $0.append((slot, outcome)) }
                    all.leave()
                }
                thread.stackSize = 1 << 20
                thread.start()
            }
        }
        while all.wait(timeout: .now() + 1) == .timedOut {
            if let progress { progress(ProgressLine.render(live.byInstance.withLock { $0 })) }
        }
        live.byInstance.withLock { $0.removeAll() }
        let instances = results.outcomes.withLock { $0 }.sorted { $0.0 < $1.0 }.map(\.1)
        var outcomes: [JobOutcome] = []
        for job in group {
            let mine = instances.filter { $0.job.name == job.name && $0.job == job }
            outcomes += job.groupReporting ? [JobOutcome.merged(mine)] : mine
        }
        return outcomes
    }

    private final class Collected: Sendable {
        let outcomes = Mutex<[(Int, JobOutcome)]>([])
    }

    private func runInstance(_ job: JobSpec, instance: Int, groupID: Int, key: String) -> JobOutcome {
        var outcome = JobOutcome(job: job, groupID: groupID, instances: 1, result: WorkloadResult(), error: nil)
        do {
            let loop = try EventLoop()
            let store = try BenchTarget(job.target!).open(on: loop, job: job, environment: environment)
            defer { store.close() }
            let runner = try WorkloadRunner(store: store, workload: job.workload(targetSize: store.size, index: instance))
            runner.onProgress = { [live] snapshot in live.byInstance.withLock { $0[key] = snapshot } }
            outcome.result = try runner.run()
        } catch {
            outcome.error = "\(error)"
        }
        return outcome
    }
}
