import Logging

/// Where a server is in a pause.
enum PauseState: String {
    case serving, draining, paused
}

/// What the control socket drives: pause (drain, flush, close the images: SM pauses tapdisk
/// this way around a snapshot, which swaps the file under the VDI), unpause (reopen,
/// possibly another file, and resume), and the list and stats reports.
///
/// Clients stay connected through a pause: their sockets are simply not read, so requests
/// they send wait in the socket and are served after the unpause.
extension NBDServer {
    public var isPaused: Bool { pauseState == .paused }

    /// Stops reading requests and accepting clients, lets the requests in flight finish, then
    /// flushes and closes every export's backend. `done` runs on the loop once paused (with
    /// the failure, if a flush or close failed: the server stays paused all the same).
    public func pause(_ done: @escaping (ControlFailure?) -> Void) {
        guard !isStopping else { return done(ControlFailure(.stopping, "the daemon is shutting down")) }
        switch pauseState {
        case .paused:
            done(nil)
        case .draining:
            pauseWaiters.append(done)
        case .serving:
            pauseState = .draining
            setAcceptsRequests(false)
            pauseWaiters.append(done)
            logger.notice("pausing: \(requestsInFlight) request(s) to drain")
        }
    }

    /// Reopens every export (the one named `export`, or the only one, from `path` when given;
    /// the others from the path they had) and resumes serving. If any image fails to open or
    /// cannot replace the old one under connected clients, nothing changes and the server
    /// stays paused. `done` runs on the loop.
    public func unpause(path: String? = nil, export: String? = nil, _ done: @escaping (ControlFailure?) -> Void) {
        switch pauseState {
        case .serving: done(ControlFailure(.notPaused, "the daemon is not paused"))
        case .draining: done(ControlFailure(.pauseInProgress, "a pause is still draining requests"))
        case .paused: deferred.append { [unowned self] in done(self.reopen(path: path, export: export)) }
        }
    }

    /// Runs between loop turns: finishes a drained pause, then the deferred work.
    func runDeferred() {
        if pauseState == .draining && requestsInFlight == 0 { finishPause() }
        while !deferred.isEmpty { deferred.removeFirst()() }
    }

    private func finishPause() {
        pauseState = .paused
        var failure: ControlFailure?
        for i in exports.indices where !backendClosed[i] {
            backendClosed[i] = true
            stats[i].pauses += 1
            do {
                try exports[i].backend.close()
            } catch {
                logger.error("pause: closing \(exports[i].path) failed: \(error)")
                failure = failure ?? ControlFailure(.closeFailed, "\(exports[i].path): \(error)")
            }
        }
        logger.notice("paused")
        let waiters = pauseWaiters
        pauseWaiters = []
        for w in waiters { w(failure) }
    }

    private func reopen(path: String?, export: String?) -> ControlFailure? {
        guard !isStopping else { return ControlFailure(.stopping, "the daemon is shutting down") }
        guard pauseState == .paused else { return ControlFailure(.notPaused, "the daemon is not paused") }
        var target: Int?
        if let export {
            guard let i = exportIndex(named: export) else { return ControlFailure(.badRequest, "no export named \"\(export)\"") }
            target = i
        } else if path != nil {
            guard exports.count == 1 else { return ControlFailure(.badRequest, "several exports: name the one the path is for") }
            target = 0
        }
        // Open everything first: a failure leaves the server exactly as paused as it was.
        var opened: [(index: Int, backend: any ExportBackend, path: String)] = []
        func abandon(_ failure: ControlFailure) -> ControlFailure {
            for o in opened { try? o.backend.close() }
            return failure
        }
        for (i, e) in exports.enumerated() {
            let p = i == target ? path ?? e.path : e.path
            guard let open = e.reopen else { return abandon(ControlFailure(.reopenFailed, "export \"\(e.name)\" cannot be reopened")) }
            let backend: any ExportBackend
            do { backend = try open(p) } catch { return abandon(ControlFailure(.reopenFailed, "\(p): \(error)")) }
            precondition(backend.loop === loop, "export \(e.name) reopened on another loop")
            opened.append((i, backend, p))
            if let problem = Self.incompatibility(old: e.backend, new: backend) {
                return abandon(ControlFailure(.incompatibleImage, "\(p): \(problem)"))
            }
        }
        for o in opened {
            exports[o.index].backend = o.backend
            exports[o.index].path = o.path
            backendClosed[o.index] = false
        }
        pauseState = .serving
        setAcceptsRequests(true)
        logger.notice("unpaused: serving \(opened.map(\.path).joined(separator: ", "))")
        for c in Array(connections.values) { c.resume() }
        return nil
    }

    /// Why `new` cannot serve the clients that negotiated with `old`; nil when it can.
    /// Clients keep the size and limits they negotiated, so the image may grow, never shrink
    /// or change what it allows.
    static func incompatibility(old: any ExportBackend, new: any ExportBackend) -> String? {
        if new.size < old.size { return "the image is smaller (\(new.size) bytes) than the one served (\(old.size) bytes)" }
        if new.features != old.features { return "the image's features differ (\(new.features) instead of \(old.features))" }
        return nil
    }

    /// Flushes and closes the backends not closed yet; call after `run()` returns.
    public func closeExports() throws {
        var failure: (any Error)?
        for i in exports.indices where !backendClosed[i] {
            backendClosed[i] = true
            do { try exports[i].backend.close() } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    // MARK: Live leaf-merge

    /// Starts the live leaf-merge of export `export` (or the only one) into `parentPath`.
    public func startLeafMerge(parentPath: String, export: String?) -> ControlFailure? {
        switch mergeTarget(export) {
        case let .failure(f): return f
        case let .success(image):
            do {
                try image.startLeafMerge(parentPath: parentPath)
                return nil
            } catch {
                return ControlFailure(.mergeRefused, "\(error)")
            }
        }
    }

    public func abortLeafMerge(export: String?) -> ControlFailure? {
        switch mergeTarget(export) {
        case let .failure(f): return f
        case let .success(image):
            image.abortLeafMerge(reason: "aborted through the control socket")
            return nil
        }
    }

    /// The image export a merge command is for: named, or the only one; served, not paused.
    private func mergeTarget(_ export: String?) -> Result<DiskImageExport, ControlFailure> {
        guard pauseState == .serving else { return .failure(ControlFailure(.mergeRefused, "the daemon is \(pauseState.rawValue)")) }
        let index: Int
        if let export {
            guard let i = exportIndex(named: export) else { return .failure(ControlFailure(.badRequest, "no export named \"\(export)\"")) }
            index = i
        } else {
            guard exports.count == 1 else { return .failure(ControlFailure(.badRequest, "several exports: name the one to merge")) }
            index = 0
        }
        guard let image = exports[index].backend as? DiskImageExport else {
            return .failure(ControlFailure(.mergeRefused, "export \"\(exports[index].name)\" is not an image chain"))
        }
        return .success(image)
    }

    // MARK: Reports

    /// Connections in transmission on export `index`.
    private func connectionCount(export index: Int) -> Int {
        connections.values.reduce(0) { $0 + ($1.exportIndex == index ? 1 : 0) }
    }

    public func exportInfos() -> [ControlExportInfo] {
        exports.enumerated().map { i, e in
            ControlExportInfo(name: e.name, path: e.path, readOnly: e.backend.features.isReadOnly, size: e.backend.size,
                              connections: connectionCount(export: i), paused: pauseState == .paused,
                              state: pauseState.rawValue,
                              merge: (e.backend as? DiskImageExport)?.leafMergeStatus.map(ControlMergeInfo.init))
        }
    }

    public func statsReport() -> [ControlExportStats] {
        exports.enumerated().map { i, e in
            ControlExportStats(name: e.name, inflight: stats[i].inflight, connections: connectionCount(export: i),
                               pauses: stats[i].pauses, ops: stats[i].report())
        }
    }

    public var stateName: String { isStopping ? "stopping" : pauseState.rawValue }
}
