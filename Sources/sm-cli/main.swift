import Foundation
import Logging
import OperatorCLI

// sm-cli: xe-style commands over the SR/VDI engine (`sm-cli help`). Only warnings and
// errors are logged, so stdout stays a clean answer (a uuid, records, JSON).
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}
exit(CLI.run(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment,
             output: .standard()))
