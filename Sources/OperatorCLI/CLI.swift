import SMErrors
import Glibc

/// sm-cli's entry point: parse, run one command, map any failure through `SMErrorTable`.
public enum CLI {
    /// Exit statuses: 0 success, 1 an SM error, 2 a usage error.
    public static func run(_ argv: [String], environment: [String: String], output: CLIOutput) -> Int32 {
        var json = argv.contains("--json")
        do {
            let args = try CLIArguments.parse(argv)
            json = args.json
            if args.command == "help" || args.flags.contains("help") {
                output.line(CommandTable.help())
                return 0
            }
            guard let spec = CommandTable.find(args.command) else { throw CLIError.unknownCommand(args.command) }
            for key in args.params.keys.sorted() where !spec.keys.contains(key) && !spec.keys.contains("*") {
                throw CLIError.unknownParameter(command: spec.name, key: key)
            }
            for map in args.maps.keys.sorted() where !spec.maps.contains(map) {
                throw CLIError.unknownParameter(command: spec.name, key: map + ":")
            }
            try spec.run(CommandContext(args: args, out: output, environment: environment))
            return 0
        } catch {
            let sm = SMErrorTable.map(error)
            if json {
                output.writeErr(jsonError(sm) + "\n")
            } else {
                output.error("Error: \(sm.name) (code \(sm.code))\n\(sm.message)")
            }
            return error is CLIError ? 2 : 1
        }
    }

    static func jsonError(_ e: SMError) -> String {
        func esc(_ s: String) -> String {
            var o = ""
            for ch in s.unicodeScalars {
                switch ch {
                case "\"": o += "\\\""
                case "\\": o += "\\\\"
                case "\n": o += "\\n"
                default: o += ch.value < 0x20 ? String(format4(ch.value)) : String(ch)
                }
            }
            return o
        }
        return "{\"error\": {\"name\": \"\(esc(e.name))\", \"code\": \(e.code), \"message\": \"\(esc(e.message))\"}}"
    }

    private static func format4(_ v: UInt32) -> String {
        let hex = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
