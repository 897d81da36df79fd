import Foundation
import Glibc
import TestSupport

/// Runs an external tool (qemu-img, qemu-io) against a daemon the test started, killed
/// after `seconds`: a server that stops answering must fail the test, not hang the suite.
func runBoundedTool(_ tool: String, _ arguments: [String], seconds: Double = 30) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: toolPath(tool) ?? tool)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    let exited = DispatchSemaphore(value: 0)
    p.terminationHandler = { _ in exited.signal() }
    try p.run()
    let reader = PipeReader(pipe)
    guard exited.wait(timeout: .now() + seconds) == .success else {
        kill(p.processIdentifier, SIGKILL)
        _ = exited.wait(timeout: .now() + 5)
        throw PluginTestError.timeout("\(tool) \(arguments.joined(separator: " "))")
    }
    return (p.terminationStatus, String(decoding: reader.finish().data, as: UTF8.self))
}
