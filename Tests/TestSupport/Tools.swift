import Foundation

/// What an external tool printed (stdout and stderr together) and how it exited.
public struct ToolResult: Sendable {
    public var status: Int32
    public var output: String
}

/// The full path of `tool` on PATH, or nil (tests that need it say they skipped).
public func toolPath(_ tool: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(tool)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// Runs `tool` to completion and collects its output.
public func runTool(_ tool: String, _ arguments: [String]) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: toolPath(tool) ?? tool)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

/// The directory holding this build's products (where `product` was linked), found by
/// walking up from the test bundle; nil when the product was not built.
public func productsDirectory(containing product: String) -> String? {
    var dir = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                  ?? CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<6 {
        if FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent(product).path) { return dir.path }
        dir.deleteLastPathComponent()
    }
    return nil
}

/// Runs `executable` with exactly `environment` and collects stdout (trimmed) and stderr apart.
public func runProcess(_ executable: String, _ arguments: [String],
                       environment: [String: String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    p.environment = environment
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
            String(decoding: e, as: UTF8.self))
}
