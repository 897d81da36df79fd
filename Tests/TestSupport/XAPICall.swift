import Foundation

/// Builds SMAPIv1 calls byte for byte as XAPI's `sm_exec.ml` writes them: one methodCall,
/// one struct parameter with members in XAPI's order (optional ones omitted), strings as
/// bare `<value>text</value>`, the empty string as `<value/>`, no whitespace between
/// elements, and `SRmaster` first in device_config. Shared by the plugin's and the XenAPI
/// mirror's tests.
public struct XAPICall: Sendable {
    public var command: String
    public var hostRef = "OpaqueRef:2f3a3b2c-4a4b-4c4d-8e8f-909192939495"
    public var sessionRef: String? = "OpaqueRef:7c1d0e6f-1111-4222-8333-444455556666"
    public var srMaster: Bool? = true
    /// device_config after SRmaster, in order.
    public var deviceConfig: [(String, String)] = []
    public var args: [String] = []
    public var srSMConfig: [(String, String)]?
    public var srRef: String?
    public var vdiType: String?
    public var srUUID: String?
    public var vdiRef: String?
    public var vdiLocation: String?
    public var vdiUUID: String?
    public var driverParams: [(String, String)]?
    public var vdiSMConfig: [(String, String)]?
    public var newUUID: String?
    public var subtaskOf: String?

    public init(_ command: String, location: String? = nil, sr: String? = nil, vdi: String? = nil, args: [String] = []) {
        self.command = command
        if let location { deviceConfig = [("location", location)] }
        srUUID = sr
        if let sr { srRef = "OpaqueRef:sr-" + sr.prefix(8) }
        if let vdi { vdiUUID = vdi; vdiLocation = vdi; vdiRef = "OpaqueRef:vdi-" + vdi.prefix(8) }
        self.args = args
    }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    public static func string(_ s: String) -> String { s.isEmpty ? "<value/>" : "<value>\(escape(s))</value>" }

    public static func strings(_ pairs: [(String, String)]) -> String {
        "<value><struct>" + pairs.map { "<member><name>\(escape($0.0))</name>\(string($0.1))</member>" }.joined()
            + "</struct></value>"
    }

    public static func member(_ name: String, _ value: String) -> String { "<member><name>\(name)</name>\(value)</member>" }

    public var text: String {
        var m = Self.member("host_ref", Self.string(hostRef))
        m += Self.member("command", Self.string(command))
        m += Self.member("args", "<value><array><data>" + args.map(Self.string).joined() + "</data></array></value>")
        var dc = deviceConfig
        if let srMaster { dc.insert(("SRmaster", srMaster ? "true" : "false"), at: 0) }
        m += Self.member("device_config", Self.strings(dc))
        if let sessionRef { m += Self.member("session_ref", Self.string(sessionRef)) }
        if let srSMConfig { m += Self.member("sr_sm_config", Self.strings(srSMConfig)) }
        if let srRef { m += Self.member("sr_ref", Self.string(srRef)) }
        if let vdiType { m += Self.member("vdi_type", Self.string(vdiType)) }
        if let srUUID { m += Self.member("sr_uuid", Self.string(srUUID)) }
        if let vdiRef { m += Self.member("vdi_ref", Self.string(vdiRef)) }
        if let vdiLocation { m += Self.member("vdi_location", Self.string(vdiLocation)) }
        if let vdiUUID { m += Self.member("vdi_uuid", Self.string(vdiUUID)) }
        if let driverParams { m += Self.member("driver_params", Self.strings(driverParams)) }
        if let vdiSMConfig { m += Self.member("vdi_sm_config", Self.strings(vdiSMConfig)) }
        if let newUUID { m += Self.member("new_uuid", Self.string(newUUID)) }
        if let subtaskOf { m += Self.member("subtask_of", Self.string(subtaskOf)) }
        return "<methodCall><methodName>\(command)</methodName><params><param><value><struct>" + m
            + "</struct></value></param></params></methodCall>"
    }

    /// vdi_create's eight arguments as XAPI sends them.
    public static func createArgs(size: String, label: String = "disk", description: String = "") -> [String] {
        [size, label, description, "", "false", "19700101T00:00:00Z", "", "false"]
    }
}
