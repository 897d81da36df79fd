/// Finds which registered SR holds a VDI, for tools that name a VDI by uuid alone
/// (sm-bench's `vdi=UUID`).
extension HostRegistry {
    /// Attaches each registered SR in uuid order until one knows `vdi`.
    public func attachSR(holding vdi: String, manager: SRManager) throws -> (AttachedSR, VDIRecord) {
        for (uuid, entry) in try load().sorted(by: { $0.key < $1.key }) {
            guard let sr = try? manager.attach(uuid: uuid, type: entry.type, deviceConfig: entry.deviceConfig) else {
                continue
            }
            if let record = try? sr.vdi(vdi) { return (sr, record) }
        }
        throw SREngineError.vdiNotFound(uuid: vdi)
    }
}
