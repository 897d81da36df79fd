import Foundation

/// fio's way of printing rates and sizes: 80.0k, 312MiB/s.
enum Units {
    static func count(_ value: Double) -> String {
        switch value {
        case 1e6...: String(format: "%.1fM", value / 1e6)
        case 1e4...: String(format: "%.1fk", value / 1e3)
        default: String(format: "%.0f", value)
        }
    }

    static func bytesPerSecond(_ value: Double) -> String {
        switch value {
        case Double(1 << 30)...: String(format: "%.2fGiB/s", value / Double(1 << 30))
        case Double(1 << 20)...: String(format: "%.1fMiB/s", value / Double(1 << 20))
        default: String(format: "%.1fKiB/s", value / 1024)
        }
    }

    static func bytes(_ value: Double) -> String {
        switch value {
        case Double(1 << 30)...: String(format: "%.2fGiB", value / Double(1 << 30))
        case Double(1 << 20)...: String(format: "%.0fMiB", value / Double(1 << 20))
        default: String(format: "%.0fKiB", value / 1024)
        }
    }
}
