import Foundation
import Glibc

/// Kills, by the pids in their pid files, the sm-tapdisk daemons a test's plugin calls
/// started under `runDirectory`: the test's `defer`, so a failure midway leaves no daemon
/// behind. A pid is killed only while its command line is sm-tapdisk's (pids are reused).
func killDaemons(under runDirectory: String) {
    let fm = FileManager.default
    for sr in (try? fm.contentsOfDirectory(atPath: runDirectory)) ?? [] {
        for name in (try? fm.contentsOfDirectory(atPath: runDirectory + "/" + sr)) ?? [] where name.hasSuffix(".pid") {
            guard let text = try? String(contentsOfFile: "\(runDirectory)/\(sr)/\(name)", encoding: .utf8),
                  let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
                  let cmdline = fm.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: cmdline, as: UTF8.self).contains("sm-tapdisk") else { continue }
            kill(pid, SIGKILL)
        }
    }
}
