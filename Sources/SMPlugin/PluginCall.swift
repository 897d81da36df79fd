import SREngine
import XMLRPC

/// One SMAPIv1 call as XAPI sends it: the method name and the members of the single struct
/// parameter, type-checked, so the commands read fields instead of walking XML-RPC values.
///
/// Optional members XAPI omits are nil (or empty); an empty `<value/>` is the empty string.
/// Members this plugin does not know are ignored, as SM ignores them.
public struct PluginCall: Sendable, Equatable {
    public var command: String
    public var hostRef: String?
    public var sessionRef: String?
    /// device-config as XAPI sends it, `SRmaster` included.
    public var deviceConfig: [String: String] = [:]
    public var srUUID: String?
    public var srRef: String?
    public var vdiUUID: String?
    public var vdiRef: String?
    public var vdiLocation: String?
    public var args: [String] = []
    public var driverParams: [String: String] = [:]
    public var vdiSMConfig: [String: String] = [:]
    public var srSMConfig: [String: String] = [:]
    public var newUUID: String?
    public var vdiType: String?
    public var vdiOnBoot: String?
    public var vdiAllowCaching: String?
    public var subtaskOf: String?
    public var localCacheSR: String?

    public init(command: String) { self.command = command }

    /// True only when XAPI said this host is the SR master (`SRmaster=true`).
    public var isMaster: Bool { deviceConfig["SRmaster"] == "true" }

    /// device-config as the SR driver reads it (without XAPI's `SRmaster`).
    public var driverConfig: [String: String] {
        var config = deviceConfig
        config["SRmaster"] = nil
        return config
    }

    /// Reads a decoded message; anything but one methodCall with one struct parameter of the
    /// expected member types is a BadRequest (the call is refused before any data is touched).
    public static func decode(_ message: XMLRPCMessage) throws(PluginError) -> PluginCall {
        guard case let .call(method, params) = message else {
            throw .badRequest("argv[1] is an XML-RPC response, not a methodCall")
        }
        guard params.count == 1, case let .structure(members) = params[0] else {
            throw .badRequest("the methodCall must have exactly one struct parameter (found \(params.count) parameter(s))")
        }
        var call = PluginCall(command: method)
        for (name, value) in members {
            switch name {
            case "command":
                let c = try string(value, name)
                guard c == method else {
                    throw .badRequest("member 'command' is '\(c)' but the methodName is '\(method)'")
                }
            case "host_ref": call.hostRef = try string(value, name)
            case "session_ref": call.sessionRef = try string(value, name)
            case "device_config": call.deviceConfig = try dictionary(value, name)
            case "sr_uuid": call.srUUID = try string(value, name)
            case "sr_ref": call.srRef = try string(value, name)
            case "vdi_uuid": call.vdiUUID = try string(value, name)
            case "vdi_ref": call.vdiRef = try string(value, name)
            case "vdi_location": call.vdiLocation = try string(value, name)
            case "args":
                guard let items = value.arrayValue else { throw .badRequest("member 'args' must be an array") }
                call.args = []
                for (index, item) in items.enumerated() { call.args.append(try string(item, "args[\(index)]")) }
            case "driver_params": call.driverParams = try dictionary(value, name)
            case "vdi_sm_config": call.vdiSMConfig = try dictionary(value, name)
            case "sr_sm_config": call.srSMConfig = try dictionary(value, name)
            case "new_uuid": call.newUUID = try string(value, name)
            case "vdi_type": call.vdiType = try string(value, name)
            case "vdi_on_boot": call.vdiOnBoot = try string(value, name)
            case "vdi_allow_caching": call.vdiAllowCaching = try string(value, name)
            case "subtask_of": call.subtaskOf = try string(value, name)
            case "local_cache_sr": call.localCacheSR = try string(value, name)
            default: continue
            }
        }
        return call
    }

    private static func string(_ value: XMLRPCValue, _ name: String) throws(PluginError) -> String {
        guard let text = value.stringValue else { throw .badRequest("member '\(name)' must be a string") }
        return text
    }

    private static func dictionary(_ value: XMLRPCValue, _ name: String) throws(PluginError) -> [String: String] {
        guard let dict = value.stringDictionary else {
            throw .badRequest("member '\(name)' must be a struct of strings")
        }
        return dict
    }

    // MARK: Fields the commands require

    /// The SR uuid, required by every SR-bound command. Checked to be a uuid because it
    /// becomes a path component (`<location>/<sr-uuid>`): `../x` must never reach the disk.
    func requireSR() throws(PluginError) -> String {
        guard let uuid = srUUID, !uuid.isEmpty else { throw .badRequest("\(command) needs sr_uuid") }
        guard UUIDText.isValid(uuid) else { throw .badRequest("sr_uuid '\(uuid)' is not a uuid") }
        return uuid
    }

    /// The VDI a command acts on: `vdi_uuid`, else `vdi_location` (on a file SR they are
    /// equal); a uuid, for the same reason as the SR's.
    func requireVDI() throws(PluginError) -> String {
        let id: String
        if let uuid = vdiUUID, !uuid.isEmpty { id = uuid } else if let location = vdiLocation, !location.isEmpty {
            id = location
        } else {
            throw .badRequest("\(command) needs vdi_uuid or vdi_location")
        }
        guard UUIDText.isValid(id) else { throw .badRequest("VDI '\(id)' is not a uuid") }
        return id
    }

    /// `args[index]`, which the command table says XAPI always sends.
    func requireArg(_ index: Int, _ what: String) throws(PluginError) -> String {
        guard index < args.count else {
            throw .badRequest("\(command) needs args[\(index)] (\(what)); got \(args.count) argument(s)")
        }
        return args[index]
    }
}
