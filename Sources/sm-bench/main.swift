import BenchHarness
import Foundation

/// sm-bench: fio-style jobs against files, NBD exports and VDIs, and compare mode.
func runBench() -> Int32 {
    let arguments = Array(CommandLine.arguments.dropFirst())
    let command: BenchCommandLine
    do {
        command = try BenchCommandLine.parse(arguments) { path in try String(contentsOfFile: path, encoding: .utf8) }
    } catch {
        FileHandle.standardError.write(Data("sm-bench: \(error)\n".utf8))
        return 2
    }
    if command.showHelp || command.jobs.isEmpty {
        print(BenchCommandLine.usage)
        return command.showHelp ? 0 : 2
    }
    let runner = JobRunner()
    let interactive = isatty(STDERR_FILENO) == 1
    let progress: ((String) -> Void)? = interactive
        ? { line in FileHandle.standardError.write(Data("\r\(line)\u{1B}[K".utf8)) } : nil
    do {
        let output: String
        if !command.compareTargets.isEmpty {
            let mode = CompareMode(targets: command.compareTargets, rounds: command.rounds)
            let rows = try mode.run(command.jobs, runner: runner) { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
            output = CompareMode.render(rows)
        } else {
            let outcomes = try runner.run(command.jobs, progress: progress)
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            output = command.outputFormat == .json ? try FioJSON.render(outcomes) : HumanReport.render(outcomes)
            if let plot = command.plotPath {
                try LatencyPlot.svg(outcomes).write(toFile: plot, atomically: true, encoding: .utf8)
            }
            if outcomes.contains(where: { $0.error != nil }) {
                emit(output, to: command.outputPath)
                return 1
            }
        }
        emit(output, to: command.outputPath)
        return 0
    } catch {
        FileHandle.standardError.write(Data("sm-bench: \(error)\n".utf8))
        return 1
    }
}

func emit(_ text: String, to path: String?) {
    if let path {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            FileHandle.standardError.write(Data("sm-bench: cannot write \(path): \(error)\n".utf8))
        }
    } else {
        print(text)
    }
}

exit(runBench())
