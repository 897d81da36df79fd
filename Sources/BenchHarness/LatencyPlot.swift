import Foundation
import LoadGenerator

/// An SVG of completion-latency percentiles per job and direction (log-scaled latency
/// against percentile), for reports.
public enum LatencyPlot {
    public static func svg(_ outcomes: [JobOutcome]) -> String {
        let width = 720.0, height = 420.0, left = 70.0, bottom = 50.0, top = 20.0, right = 180.0
        let plotW = width - left - right, plotH = height - top - bottom
        let percentiles = HumanReport.percentiles
        var series: [(String, [Double])] = []
        for outcome in outcomes {
            for (label, stats) in [("read", outcome.result.read), ("write", outcome.result.write)] where stats.ios > 0 {
                series.append(("\(outcome.job.name) \(label)",
                               percentiles.map { max(Double(stats.latency.valueAtPercentile($0)) / 1000, 0.1) }))
            }
        }
        let all = series.flatMap(\.1)
        let lo = log10(all.min() ?? 1), hi = max(log10(all.max() ?? 10), lo + 1)
        func x(_ i: Int) -> Double { left + plotW * Double(i) / Double(percentiles.count - 1) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (log10(v) - lo) / (hi - lo)) }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
        var svg = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">",
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                   "<text x=\"\(left)\" y=\"14\">completion latency (µs, log scale) by percentile</text>"]
        for (i, p) in percentiles.enumerated() where i % 2 == 0 || i == percentiles.count - 1 {
            svg.append("<text x=\"\(x(i))\" y=\"\(height - bottom + 16)\" text-anchor=\"middle\">\(p)</text>")
        }
        for decade in Int(floor(lo))...Int(ceil(hi)) {
            let v = pow(10, Double(decade))
            guard log10(v) >= lo - 1e-9 && log10(v) <= hi + 1e-9 else { continue }
            svg.append("<line x1=\"\(left)\" x2=\"\(left + plotW)\" y1=\"\(y(v))\" y2=\"\(y(v))\" stroke=\"#ddd\"/>")
            svg.append("<text x=\"\(left - 6)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(Int(v))</text>")
        }
        for (index, (name, values)) in series.enumerated() {
            let color = colors[index % colors.count]
            let points = values.enumerated().map { "\(x($0.offset)),\(y($0.element))" }.joined(separator: " ")
            svg.append("<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points)\"/>")
            svg.append("<text x=\"\(left + plotW + 10)\" y=\"\(top + 14 * Double(index + 1))\" fill=\"\(color)\">\(name)</text>")
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n")
    }
}
