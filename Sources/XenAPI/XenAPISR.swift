/// The SR class: lookup and the space figures SM's `SR._db_update` writes.
extension XenAPIClient {
    public func srByUUID(_ uuid: String) throws(XenAPIError) -> String {
        try string("SR.get_by_uuid", [.string(uuid)])
    }

    public func srSetVirtualAllocation(_ ref: String, _ bytes: UInt64) throws(XenAPIError) {
        try call("SR.set_virtual_allocation", [.string(ref), XenAPIWire.int64(bytes)])
    }

    public func srSetPhysicalSize(_ ref: String, _ bytes: UInt64) throws(XenAPIError) {
        try call("SR.set_physical_size", [.string(ref), XenAPIWire.int64(bytes)])
    }

    public func srSetPhysicalUtilisation(_ ref: String, _ bytes: UInt64) throws(XenAPIError) {
        try call("SR.set_physical_utilisation", [.string(ref), XenAPIWire.int64(bytes)])
    }
}
