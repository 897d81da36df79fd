import Foundation
import SREngine

/// sr-gc: runs an SR's garbage collector in the foreground (progress on a terminal), or
/// asks a running one to stop, or switches it off and on, or shows what it would do.
///
///     sm-cli sr-gc uuid=SR                 collect until nothing is left (exit SRNoSpace if space ran short)
///     sm-cli sr-gc uuid=SR query=true      what is left: garbage, merges, blocked merges
///     sm-cli sr-gc uuid=SR abort=true      ask the running collector to stop
///     sm-cli sr-gc uuid=SR enable=false    SR other-config gc=false (true removes it)
enum GCCommand {
    static let spec = CommandSpec(name: "sr-gc", summary: "garbage-collect and coalesce an SR (query, abort, enable)",
                                  keys: ["uuid", "query", "abort", "enable"], run: run)

    static func run(_ c: CommandContext) throws {
        let sr = try c.sr(try c.args.required("uuid"))
        if c.args.params["enable"] != nil {
            try sr.setGCEnabled(try c.bool("enable", default: true))
            return
        }
        if try c.bool("abort", default: false) {
            try sr.requestGCAbort()
            return
        }
        if try c.bool("query", default: false) {
            printPlan(c, try sr.garbageCollectionPlan())
            return
        }
        var bar: ProgressBar?
        var current = ""
        let report = try sr.collectGarbage { p in
            let key = "\(p.operation) \(p.vdi)"
            if key != current {
                bar?.finish()
                current = key
                bar = ProgressBar(out: c.out, total: p.total, label: key, enabled: !c.args.json)
            }
            bar?.update(p.done)
        }
        bar?.finish()
        if let noSpace = report.noSpace {
            // Failures print nothing on standard output; what was done goes with the error.
            c.out.error(reportLines(report).joined(separator: "\n"))
            throw noSpace
        }
        printReport(c, report)
    }

    static func printPlan(_ c: CommandContext, _ plan: CoalescePlan) {
        if c.args.json {
            c.out.json(["garbage": plan.garbage, "coalesce": plan.coalesce.map(\.description),
                        "leaf-coalesce": plan.leafCoalesce.map(\.description),
                        "blocked": plan.blocked])
            return
        }
        for g in plan.garbage { c.out.line("garbage \(g)") }
        for m in plan.coalesce { c.out.line("coalesce \(m)") }
        for m in plan.leafCoalesce { c.out.line("leaf-coalesce \(m)") }
        for (vdi, reason) in plan.blocked.sorted(by: { $0.key < $1.key }) { c.out.line("blocked \(vdi): \(reason)") }
    }

    static func printReport(_ c: CommandContext, _ r: GCReport) {
        if c.args.json {
            c.out.json(["removed": r.removed, "coalesced": r.coalesced, "leaf-coalesced": r.leafCoalesced,
                        "skipped": r.skipped, "recovered": r.recovered, "bytes-copied": r.bytesCopied,
                        "seconds": r.copySeconds, "aborted": r.aborted, "disabled": r.disabled,
                        "already-running": r.alreadyRunning, "done": r.remaining.isEmpty])
            return
        }
        for line in reportLines(r) { c.out.line(line) }
    }

    static func reportLines(_ r: GCReport) -> [String] {
        if r.alreadyRunning { return ["another garbage collector is running on this SR"] }
        var lines: [String] = []
        if r.disabled { lines.append("garbage collection is disabled on this SR (other-config gc=false)") }
        lines += r.recovered
        lines += r.removed.map { "removed \($0)" }
        lines += r.coalesced.map { "coalesced \($0)" }
        lines += r.leafCoalesced.map { "leaf-coalesced \($0)" }
        lines += r.skipped.sorted(by: { $0.key < $1.key }).map { "skipped \($0.key): \($0.value)" }
        if r.bytesCopied > 0 {
            lines.append("copied \(SizeText.format(r.bytesCopied)) in \(String(format: "%.2f", r.copySeconds)) s"
                         + " (\(String(format: "%.0f", r.mebibytesPerSecond)) MiB/s)")
        }
        if r.aborted { lines.append("aborted") }
        return lines
    }
}
