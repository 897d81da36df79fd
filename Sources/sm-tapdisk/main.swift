import ArgumentParser
import DataPath
import Dispatch
import Glibc
import Logging
import StorageIO

/// sm-tapdisk: the data-path daemon. It serves one file or VDI over NBD from one io_uring
/// event loop, like blktap's tapdisk serving a VBD.
struct SMTapdisk: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sm-tapdisk",
        abstract: "Serve a disk over NBD on one io_uring event loop.",
        subcommands: [Serve.self])
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve FILE over NBD until SIGTERM or SIGINT.")

    @Option(help: "Unix socket to listen on (created with mode 0600).")
    var socket: String

    @Option(help: """
        Control socket (mode 0600) for list, stats, pause, unpause and shutdown; default: the NBD socket's \
        path with .sock replaced by .ctl (or .ctl appended).
        """)
    var control: String?

    @Option(help: "Also listen on TCP at a loopback address, e.g. 127.0.0.1:10809.")
    var tcp: String?

    @Flag(help: "Refuse writes (snapshots).")
    var readOnly = false

    @Option(help: "Export name clients ask for.")
    var export = ""

    @Flag(help: "Use the page cache instead of O_DIRECT.")
    var buffered = false

    @Option(help: "Image format: raw, vhd, or auto (by the file name: .vhd is VHD).")
    var format = "auto"

    @Option(help: """
        While at least \(DataPathLimits.pollDepthMin) small requests are in flight, poll the ring this many \
        microseconds after the last event before sleeping (0: never). Polling stops on its own while \
        another task wants the CPU (see BENCHMARKS.md); it costs up to a CPU while the load lasts.
        """)
    var pollUs: Int64 = DataPathLimits.pollNanosecondsDefault / 1000

    @Option(help: """
        When the ring runs completion work: standard (interrupts the loop), cooperative (at its next \
        syscall), deferred (only when the loop asks, one batch per turn).
        """)
    var ringMode = "standard"

    @Flag(help: "Send each reply as soon as it completes instead of batching a loop turn's replies.")
    var noCoalesce = false

    @Flag(help: "Log each connection.")
    var verbose = false

    @Argument(help: "The disk to serve: a raw file, a block device, or a VHD.")
    var file: String

    func run() throws {
        var logger = Logger(label: "sm-tapdisk")
        logger.logLevel = verbose ? .debug : .notice
        signal(SIGPIPE, SIG_IGN)

        guard let ringMode = RingMode(rawValue: ringMode) else {
            throw ValidationError("--ring-mode is one of \(RingMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let loop = try EventLoop(ringMode: ringMode)
        guard let format = ExportFormat(rawValue: format) else {
            throw ValidationError("--format is one of \(ExportFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let (readOnly, direct) = (self.readOnly, !buffered)
        let open = { (path: String) in try ExportFormat.openExport(path, format: format, on: loop, readOnly: readOnly, direct: direct) }
        let backend = try open(file)
        guard pollUs >= 0 && pollUs * 1000 <= DataPathLimits.pollNanosecondsMax else {
            throw ValidationError("--poll-us is 0...\(DataPathLimits.pollNanosecondsMax / 1000)")
        }
        let configuration = NBDServerConfiguration(pollNanoseconds: pollUs * 1000, coalesceReplies: !noCoalesce)
        let served = ServedExport(name: export, description: file, backend: backend, path: file, reopen: open)
        let server = try NBDServer(loop: loop, exports: [served], configuration: configuration, logger: logger)
        // The control socket first: whoever waits for the URI below may use it at once.
        let controlServer = try ControlServer(server: server, path: control ?? Self.controlPath(forSocket: socket))
        try server.listen(unixPath: socket)
        if let tcp {
            let (host, port) = try parseHostPort(tcp)
            let bound = try server.listen(tcpHost: host, port: port)
            print("nbd://\(host.contains(":") ? "[\(host)]" : host):\(bound)/\(export)")
        }
        print("nbd+unix:///\(export)?socket=\(socket)")
        fflush(nil)

        // Signals arrive on a dispatch queue; the stop handle wakes the loop thread.
        let stopHandle = server.stopHandle
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stopHandle.stop() }
            source.resume()
            sources.append(source)
        }
        server.run()
        sources.forEach { $0.cancel() }
        controlServer.close()
        do {
            try server.closeExports()
        } catch {
            logger.error("closing \(file): \(error)")
            throw ExitCode(1)
        }
    }

    /// `<dir>/<vdi>.sock` → `<dir>/<vdi>.ctl`; any other name gets `.ctl` appended.
    static func controlPath(forSocket socket: String) -> String {
        socket.hasSuffix(".sock") ? String(socket.dropLast(5)) + ".ctl" : socket + ".ctl"
    }

    private func parseHostPort(_ text: String) throws -> (String, UInt16) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw ValidationError("--tcp takes HOST:PORT, e.g. 127.0.0.1:10809")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }
}

SMTapdisk.main()
