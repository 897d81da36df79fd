import ArgumentParser

/// The operator's command line: SR and VDI operations, and the embedded demo.
@main
struct SMCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sm-cli",
        abstract: "Storage manager command line: storage repositories, VDIs and the data path.",
        subcommands: [Demo.self])
}
