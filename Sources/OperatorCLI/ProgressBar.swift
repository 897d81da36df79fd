/// A one-line progress bar on standard error, drawn only when it is a terminal, so
/// scripts and logs get no carriage-return noise.
final class ProgressBar {
    private let out: CLIOutput
    private let total: UInt64
    private let label: String
    private let enabled: Bool
    private var lastPercent = -1

    init(out: CLIOutput, total: UInt64, label: String, enabled: Bool) {
        self.out = out
        self.total = max(total, 1)
        self.label = label
        self.enabled = enabled && out.errIsTerminal
    }

    func update(_ done: UInt64) {
        guard enabled else { return }
        let percent = Int(min(done, total) * 100 / total)
        guard percent != lastPercent else { return }
        lastPercent = percent
        let width = 30, filled = percent * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        out.writeErr("\r\(label) [\(bar)] \(percent)% \(SizeText.format(done)) / \(SizeText.format(total))")
    }

    func finish() {
        guard enabled, lastPercent >= 0 else { return }
        out.writeErr("\n")
    }
}
