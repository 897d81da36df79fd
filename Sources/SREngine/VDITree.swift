/// A VDI with the VDIs whose images are its children: how snapshots and clones share data.
public struct VDITreeNode: Sendable {
    public var record: VDIRecord
    public var children: [VDITreeNode]
}

extension AttachedSR {
    /// The SR's snapshot trees, roots first (chains' bases), children sorted by uuid.
    public func tree() throws -> [VDITreeNode] {
        let meta = try withSRLock { try metadata() }
        func node(_ r: VDIRecord, _ seen: Set<String>) -> VDITreeNode {
            let kids = meta.children(of: r.uuid).filter { !seen.contains($0.uuid) }
            return VDITreeNode(record: r, children: kids.map { node($0, seen.union([r.uuid])) })
        }
        return meta.vdis.values.filter { $0.parent.map { meta.vdis[$0] == nil } ?? true }
            .sorted { $0.uuid < $1.uuid }.map { node($0, []) }
    }
}
