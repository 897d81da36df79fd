import SMErrors
import Testing

@testable import OperatorCLI
@testable import SREngine

/// The xe-style argument parser, size text and the SM error table.
@Suite struct ParsingTests {
    @Test func parsesXeStyleArguments() throws {
        let a = try CLIArguments.parse(["vdi-create", "sr-uuid=x", "name-label=a b", "device-config:location=/d",
                                        "sm-config:k=v=w", "--json", "--registry", "/r", "--lock-dir=/l"])
        #expect(a.command == "vdi-create")
        #expect(a.params == ["sr-uuid": "x", "name-label": "a b"])
        #expect(a.maps == ["device-config": ["location": "/d"], "sm-config": ["k": "v=w"]])
        #expect(a.json && a.flagValues == ["registry": "/r", "lock-dir": "/l"])
        #expect(throws: CLIError.self) { try CLIArguments.parse([]) }
        #expect(throws: CLIError.self) { try CLIArguments.parse(["a", "b"]) }
        #expect(throws: CLIError.self) { try CLIArguments.parse(["a", "--registry"]) }
        #expect(throws: CLIError.self) { try CLIArguments.parse(["a", "=v"]) }
    }

    @Test func sizes() {
        #expect(SizeText.parse("64MiB") == 64 << 20)
        #expect(SizeText.parse("10GiB") == 10 << 30)
        #expect(SizeText.parse("2TiB") == 2 << 40)
        #expect(SizeText.parse("4096") == 4096)
        #expect(SizeText.parse("1g") == 1 << 30)
        #expect(SizeText.parse("12 MiB") == 12 << 20)
        #expect(SizeText.parse("x") == nil)
        #expect(SizeText.parse("-1") == nil)
        #expect(SizeText.parse("99999999999TiB") == nil)
        #expect(SizeText.format(2 << 30) == "2 GiB")
        #expect(SizeText.format(1536) == "1.5 KiB")
    }

    @Test func errorTableUsesSMCodes() {
        let cases: [(any Error, String, Int)] = [
            (SREngineError.configMissing(key: "location"), "ConfigLocationMissing", 94),
            (SREngineError.srNotEmpty(uuid: "s", vdis: ["v"]), "SRNotEmpty", 39),
            (SREngineError.noSpace(needed: 2, available: 1, operation: "x"), "SRNoSpace", 44),
            (SREngineError.vdiUnavailable(uuid: "v", detail: "d"), "VDIUnavailable", 46),
            (SREngineError.vdiSize(requested: 1, detail: "d"), "VDISize", 79),
            (SREngineError.chainTooLong(uuid: "v", depth: 30), "SnapshotChainTooLong", 109),
            (SREngineError.vdiNotFound(uuid: "v"), "VDIMissing", 144),
            (SREngineError.vdiInUse(uuid: "v"), "VDIInUse", 24),
            (SREngineError.srExists(uuid: "s"), "SRExists", 42),
            (SREngineError.resizeRefused(uuid: "v", detail: "d"), "VDIResize", 110),
            (SREngineError.lockFailed(path: "p", detail: "d"), "LockErr", 37),
            (CLIError.missingParameter("uuid"), "InvalidArg", 1),
        ]
        for (error, name, code) in cases {
            let sm = SMErrorTable.map(error)
            #expect(sm.name == name && sm.code == code, "\(error) → \(sm)")
            #expect(sm.message.contains("[opterr="))
        }
    }

    @Test func inProcessRunReportsUsageErrors() {
        var err = ""
        let out = CLIOutput(writeOut: { _ in }, writeErr: { err += $0 })
        #expect(CLI.run(["no-such-command"], environment: [:], output: out) == 2)
        #expect(err.contains("InvalidArg (code 1)"))
        err = ""
        #expect(CLI.run(["sr-list", "bogus=1", "--registry", "/nonexistent/r.json"], environment: [:], output: out) == 2)
        #expect(err.contains("does not take the parameter 'bogus'"))
        var help = ""
        #expect(CLI.run(["help"], environment: [:], output: CLIOutput(writeOut: { help += $0 }, writeErr: { _ in })) == 0)
        for c in ["sr-probe", "sr-create", "sr-introduce", "sr-forget", "sr-destroy", "sr-list", "sr-scan", "sr-param-list",
                  "vdi-create", "vdi-list", "vdi-param-list", "vdi-snapshot", "vdi-clone", "vdi-resize", "vdi-destroy",
                  "vdi-import", "vdi-export", "demo"] {
            #expect(help.contains(c), "help lacks \(c)")
        }
    }
}
