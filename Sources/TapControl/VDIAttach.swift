import Foundation
import SREngine

/// Attaching a VDI to the data path: the checks SM makes, then a daemon serving its image.
/// The plugin's vdi_attach and sm-cli's vdi-attach both come here.
extension DataPathLauncher {
    /// Starts (or finds) the daemon serving VDI `vdi` of `sr`; returns its launcher, whose
    /// `nbdURI` clients use. `tapdisk` nil: the daemon is not installed (VDIUnavailable).
    public static func attach(_ sr: AttachedSR, vdi: String, writable: Bool, tapdisk: String?,
                              runDirectory: String) throws -> DataPathLauncher {
        let record = try sr.vdi(vdi)
        guard !record.hidden else {
            throw SREngineError.vdiUnavailable(uuid: vdi, detail: "a hidden base copy cannot be attached")
        }
        if writable && record.readOnly {
            throw SREngineError.vdiUnavailable(uuid: vdi, detail: "a read-only VDI cannot be attached writable")
        }
        guard let tapdisk else {
            throw SREngineError.vdiUnavailable(uuid: vdi, detail: "the data-path daemon sm-tapdisk is not installed")
        }
        let launcher = DataPathLauncher(runDirectory: runDirectory, sr: sr.uuid, vdi: vdi)
        try launcher.start(tapdisk: tapdisk, file: sr.repository.dataPathLocation(of: vdi + ".vhd"), readOnly: !writable)
        return launcher
    }

    /// The daemons with a pid file under `runDirectory` (alive or not: see `runningPID`),
    /// optionally only those of SR `sr` or VDI `vdi`, sorted by SR then VDI.
    public static func all(runDirectory: String, sr: String? = nil, vdi: String? = nil) -> [DataPathLauncher] {
        let fm = FileManager.default
        let srs = sr.map { [$0] } ?? ((try? fm.contentsOfDirectory(atPath: runDirectory)) ?? []).sorted()
        var found: [DataPathLauncher] = []
        for s in srs {
            let names = (try? fm.contentsOfDirectory(atPath: runDirectory + "/" + s)) ?? []
            for name in names.sorted() where name.hasSuffix(".pid") {
                let v = String(name.dropLast(4))
                if vdi == nil || vdi == v { found.append(DataPathLauncher(runDirectory: runDirectory, sr: s, vdi: v)) }
            }
        }
        return found
    }

    /// `sm-tapdisk`: `$SM_TAPDISK` if set (nil when not executable), else next to the
    /// running executable (`/proc/self/exe`).
    public static func locateTapdisk(environment: [String: String]) -> String? {
        let fm = FileManager.default
        if let explicit = environment["SM_TAPDISK"] { return fm.isExecutableFile(atPath: explicit) ? explicit : nil }
        guard let dir = DetachedProcess.ownDirectory() else { return nil }
        let candidate = dir + "/sm-tapdisk"
        return fm.isExecutableFile(atPath: candidate) ? candidate : nil
    }
}
