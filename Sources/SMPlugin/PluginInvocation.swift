import XMLRPC

/// One run of the plugin as XAPI execs it: `argv = [<SM dir>/<Name>SR, <methodCall>]`.
///
/// Whatever argv holds, the outcome is one message for stdout (the caller exits 0): the
/// executable's name picks the SR type, argv[1] must be exactly one methodCall of XAPI's
/// shape (else BadRequest, before anything is opened), then `CommandDispatch` runs it.
public enum PluginInvocation {
    public static func run(arguments: [String], environment: [String: String]) -> PluginOutcome {
        let executable = arguments.first ?? ""
        guard let type = PluginEnvironment.srType(forExecutable: executable) else {
            return refuse(.unknownDriverName(executable.split(separator: "/").last.map(String.init) ?? executable))
        }
        let call: PluginCall
        do {
            call = try decode(arguments)
        } catch {
            return refuse(error)
        }
        let env = PluginEnvironment.from(executable: executable, srType: type, environment: environment)
        return CommandDispatch.handle(call, environment: env)
    }

    /// argv → a call: exactly one argument, well-formed XML-RPC, the right shape, and no
    /// field holding a character XML cannot carry.
    static func decode(_ arguments: [String]) throws(PluginError) -> PluginCall {
        guard arguments.count == 2 else {
            throw .badRequest("expected exactly one argument, the XML-RPC methodCall; got \(max(0, arguments.count - 1))")
        }
        let screened = IllegalCharacterScreen.screen(arguments[1])
        let message: XMLRPCMessage
        do {
            message = try XMLRPCDecoder.decode(screened.text)
        } catch {
            throw .badRequest("argv[1] is not an XML-RPC methodCall: \(error)")
        }
        let call = try PluginCall.decode(message)
        if !screened.replaced.isEmpty, case let .call(_, params) = message,
           let path = IllegalCharacterScreen.firstMarked(params[0], path: "") {
            throw .illegalXMLChar(field: describe(path, command: call.command), scalar: screened.replaced[0])
        }
        return call
    }

    /// Names vdi_create's positional arguments, so the operator sees `name_label`, not `args[1]`.
    static func describe(_ path: String, command: String) -> String {
        guard command == "vdi_create" else { return path }
        switch path {
        case "args[1]": return "name_label (args[1])"
        case "args[2]": return "name_description (args[2])"
        default: return path
        }
    }

    static func refuse(_ error: PluginError) -> PluginOutcome {
        let sm = error.smError
        return PluginOutcome(message: .fault(code: sm.code, string: sm.message),
                             diagnostics: ["sm-plugin: \(sm.name) (\(sm.code)): \(sm.message)"])
    }
}
