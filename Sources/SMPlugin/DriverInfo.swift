import SREngine
import XMLRPC

/// sr_get_driver_info: what XAPI registers about the driver when it scans the SM directory.
///
/// The capabilities are what XAPI gates operations on (`smint.ml`): only what this plugin
/// really answers is claimed. No `ATOMIC_PAUSE`: that is SM's own key for its tapdisk pause
/// through XAPI's sm-config; here the engine pauses sm-tapdisk itself around snapshot,
/// clone and resize, so VDI_RESIZE_ONLINE is offered; VDI_COMPOSE re-parents a leaf (storage migration).
public enum DriverInfo {
    public static let requiredAPIVersion = "1.0"
    public static let driverVersion = "1.0"

    public static let capabilities = [
        "SR_PROBE", "SR_UPDATE",
        "VDI_CREATE", "VDI_DELETE", "VDI_ATTACH", "VDI_DETACH", "VDI_ACTIVATE", "VDI_DEACTIVATE",
        "VDI_CLONE", "VDI_SNAPSHOT", "VDI_RESIZE", "VDI_RESIZE_ONLINE", "VDI_COMPOSE", "VDI_INTRODUCE", "VDI_UPDATE", "VDI_GENERATE_CONFIG",
        "THIN_PROVISIONING",
    ]

    /// Per-type names as XAPI shows them (`xe sm-list`).
    static func names(_ type: String) -> (name: String, description: String) {
        switch type {
        case "file": ("Local Path VHD",
                      "SR plugin which stores disks as thin VHD files in a local directory (storage manager engine)")
        default: (type, "SR plugin for SR type \(type) (storage manager engine)")
        }
    }

    /// The driver-info struct, members in the order SM's drivers return them.
    public static func value(srType: String) throws -> XMLRPCValue {
        let driver = try SRManager().driver(srType)
        let (name, description) = names(srType)
        return .structure([
            ("name", .string(name)),
            ("description", .string(description)),
            ("vendor", .string("Storage Manager project")),
            ("copyright", .string("(C) the Storage Manager authors")),
            ("driver_version", .string(driverVersion)),
            ("required_api_version", .string(requiredAPIVersion)),
            ("capabilities", .array(capabilities.map(XMLRPCValue.string))),
            ("configuration", .array(driver.configuration.map {
                .structure([("key", .string($0.key)), ("description", .string($0.description))])
            })),
            ("supported_image_formats", .array([.string("vhd")])),
        ])
    }
}
