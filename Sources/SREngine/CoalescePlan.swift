/// A merge the collector can make: `vdi`'s data goes into `parent`, which has no other child.
public struct CoalesceCandidate: Equatable, Sendable, CustomStringConvertible {
    public var vdi: String
    public var parent: String
    /// Images in `vdi`'s chain: the tallest chains are shortened first (as SM does).
    public var depth: Int

    public var description: String { "\(vdi) into \(parent)" }
}

/// What the collector has left to do on an SR, from the metadata alone (no image I/O), so
/// it can be computed under the SR lock, shown by `sr-gc`, and checked by tests.
///
/// - garbage: hidden VDIs with no visible descendant (nothing the toolstack sees needs them);
/// - coalesce: a hidden VDI with children whose parent is hidden and has no other child;
/// - leaf-coalesce: a visible leaf whose parent is hidden and has no other child.
/// A parent that is visible is never written (it is a snapshot someone can read), so a
/// hidden VDI below a visible one stays until it gains a sibling or loses its children.
public struct CoalescePlan: Equatable, Sendable {
    public var garbage: [String] = []
    public var coalesce: [CoalesceCandidate] = []
    public var leafCoalesce: [CoalesceCandidate] = []
    /// Merges that the rules allow but something blocks, with the reason (shown, not done).
    public var blocked: [String: String] = [:]

    public var isEmpty: Bool { garbage.isEmpty && coalesce.isEmpty && leafCoalesce.isEmpty }

    /// The plan for `meta`, leaving out the VDIs in `excluding` (merges already refused in
    /// this run: no space, in use) so that a run always ends.
    public static func make(_ meta: SRMetadata, excluding: Set<String> = []) -> CoalescePlan {
        var plan = CoalescePlan()
        var children: [String: [String]] = [:]
        for r in meta.vdis.values { if let p = r.parent { children[p, default: []].append(r.uuid) } }
        var visibleBelow: [String: Bool] = [:]
        func hasVisible(_ uuid: String, _ seen: Set<String>) -> Bool {
            if let known = visibleBelow[uuid] { return known }
            guard !seen.contains(uuid), let r = meta.vdis[uuid] else { return false }
            let result = !r.hidden || (children[uuid] ?? []).contains { hasVisible($0, seen.union([uuid])) }
            visibleBelow[uuid] = result
            return result
        }
        for uuid in meta.vdis.keys.sorted() where !hasVisible(uuid, []) { plan.garbage.append(uuid) }
        let garbage = Set(plan.garbage)
        let srConfig = meta.sr.otherConfig
        let coalesceOn = !GCConfigKey.isOff(srConfig, GCConfigKey.coalesce)
        let leafOn = coalesceOn && !GCConfigKey.isOff(srConfig, GCConfigKey.leafCoalesce)
        for r in meta.vdis.values.sorted(by: { $0.uuid < $1.uuid }) where !garbage.contains(r.uuid) {
            guard let p = r.parent, let parent = meta.vdis[p], parent.hidden,
                  (children[p] ?? []).filter({ !garbage.contains($0) }) == [r.uuid] else { continue }
            let candidate = CoalesceCandidate(vdi: r.uuid, parent: p, depth: meta.chainDepth(of: r.uuid))
            let isLeaf = (children[r.uuid] ?? []).isEmpty
            if excluding.contains(r.uuid) { continue }
            if r.virtualSize != parent.virtualSize {
                plan.blocked[r.uuid] = "its virtual size (\(r.virtualSize)) differs from its parent's (\(parent.virtualSize))"
            } else if r.hidden && !isLeaf {
                if coalesceOn { plan.coalesce.append(candidate) } else { plan.blocked[r.uuid] = "SR other-config coalesce=false" }
            } else if !r.hidden && isLeaf {
                if !leafOn {
                    plan.blocked[r.uuid] = "SR other-config \(coalesceOn ? "leaf-coalesce" : "coalesce")=false"
                } else if GCConfigKey.isOff(r.smConfig, GCConfigKey.leafCoalesce) {
                    plan.blocked[r.uuid] = "sm-config leaf-coalesce=false"
                } else if let host = r.smConfig.keys.sorted().first(where: { $0.hasPrefix(GCConfigKey.attachedPrefix) }) {
                    plan.blocked[r.uuid] = "attached (sm-config \(host)): only an online leaf-coalesce may merge it"
                } else {
                    plan.leafCoalesce.append(candidate)
                }
            }
        }
        let tallestFirst: (CoalesceCandidate, CoalesceCandidate) -> Bool = {
            $0.depth != $1.depth ? $0.depth > $1.depth : $0.vdi < $1.vdi
        }
        plan.coalesce.sort(by: tallestFirst)
        plan.leafCoalesce.sort(by: tallestFirst)
        return plan
    }
}
