import ArgumentParser
import Foundation
import SREngine

/// sm-gc: the per-SR background worker, as SM's `cleanup.py -b`. sm-cli and the plugin start
/// it detached after operations that leave work (VDI destroy, SR scan, snapshots that used
/// blanks); it refills the SR's blank pool, then runs the garbage collector until nothing is
/// left. Its output goes to `<lock-dir>/<sr-uuid>/gc.log`.
struct SMGC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sm-gc",
        abstract: "Refill an SR's blank pool and garbage-collect it (the background worker).")

    @Option(help: "The SR's uuid.")
    var sr: String

    @Option(help: "The SR's type (file, nfs).")
    var type: String

    @Option(name: .customLong("device-config"), help: "A device-config entry KEY=VALUE (repeatable).")
    var deviceConfig: [String] = []

    @Option(help: "Root of the lock files (as the starter used).")
    var lockDir: String?

    @Flag(help: "Only refill the blank pool.")
    var blanksOnly = false

    /// How long to wait for a collector already running on the SR before giving up: its
    /// loop picks up most new work, but not what appeared after its last pass.
    static let busyWaitSeconds = 600

    func run() throws {
        var config: [String: String] = [:]
        for entry in deviceConfig {
            guard let eq = entry.firstIndex(of: "=") else { throw ValidationError("--device-config takes KEY=VALUE, got '\(entry)'") }
            config[String(entry[..<eq])] = String(entry[entry.index(after: eq)...])
        }
        let manager = SRManager(options: EngineOptions(lockDirectory: lockDir))
        let attached = try manager.attach(uuid: sr, type: type, deviceConfig: config)
        log("started; recovery: \(attached.recoveryLog.isEmpty ? "nothing pending" : attached.recoveryLog.joined(separator: "; "))")
        let made = try attached.refillBlanks()
        if made > 0 { log("formatted \(made) blank(s)") }
        let released = try attached.releaseBlankTables()
        if released > 0 { log("the unused table reserve of \(released) image(s) is given back") }
        if blanksOnly { return }
        for _ in 0..<Self.busyWaitSeconds {
            let report = try attached.collectGarbage()
            if report.alreadyRunning {
                sleep(1)
                continue
            }
            log("collected: removed \(report.removed), coalesced \(report.coalesced), leaf-coalesced \(report.leafCoalesced)"
                + (report.skipped.isEmpty ? "" : ", skipped \(report.skipped)")
                + (report.aborted ? ", aborted" : "") + (report.disabled ? ", disabled on this SR" : ""))
            return
        }
        log("another collector kept the SR for \(Self.busyWaitSeconds) s; leaving the work to it")
    }

    func log(_ text: String) {
        print("\(Date()) sm-gc[\(getpid())] \(sr): \(text)")
        fflush(nil)
    }
}

SMGC.main()
