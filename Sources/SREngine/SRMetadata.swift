import Foundation

/// The SR's durable state: its own record and every VDI record, kept in one file that is
/// replaced atomically with a checksum (see `MetadataStore`), so kill -9 at any instant
/// leaves the previous or the next version, never a mix.
public struct SRMetadata: Codable, Equatable, Sendable {
    public var sr: SRRecord
    public var vdis: [String: VDIRecord]
    /// Incremented by every save: tells a reader whether anything changed.
    public var generation: UInt64

    public init(sr: SRRecord, vdis: [String: VDIRecord] = [:], generation: UInt64 = 0) {
        self.sr = sr
        self.vdis = vdis
        self.generation = generation
    }

    /// The VDIs whose `vhd-parent` is `uuid`.
    public func children(of uuid: String) -> [VDIRecord] {
        vdis.values.filter { $0.parent == uuid }.sorted { $0.uuid < $1.uuid }
    }

    /// The leaves of the tree below `uuid` (excluding it), sorted.
    public func leaves(below uuid: String) -> [String] {
        var result: [String] = [], pending = children(of: uuid).map(\.uuid)
        var seen: Set<String> = [uuid]
        while let next = pending.popLast() {
            guard seen.insert(next).inserted else { continue }
            let kids = children(of: next).map(\.uuid)
            if kids.isEmpty { result.append(next) } else { pending += kids }
        }
        return result.sorted()
    }

    /// The VDIs from `uuid` up to its base, `uuid` first (stops at a missing record or a loop).
    public func chain(from uuid: String) -> [String] {
        var chain: [String] = [], current: String? = uuid
        var seen: Set<String> = []
        while let u = current, let r = vdis[u], seen.insert(u).inserted {
            chain.append(u)
            current = r.parent
        }
        return chain
    }

    /// Number of images in the chain from `uuid` up to its base (1 for a VDI without parent).
    public func chainDepth(of uuid: String) -> Int { chain(from: uuid).count }

    /// Sum of the virtual sizes of managed VDIs: what XenServer calls virtual allocation.
    public var virtualAllocation: UInt64 {
        vdis.values.filter(\.managed).reduce(0) { $0 + $1.virtualSize }
    }
}

/// Reads and writes `SRMetadata` in the SR's private directory.
struct MetadataStore {
    static let kind = "sr-metadata"
    static let version = 1
    let path: String

    func exists() -> Bool { FileSystem.exists(path) }

    func load() throws -> SRMetadata {
        try Self.decode(try FileSystem.readFile(path, limit: SRLimits.metadataBytesMax), path: path)
    }

    func save(_ metadata: SRMetadata) throws {
        try FileSystem.writeAtomically(path, try Self.encode(metadata))
    }

    /// The file's bytes: checksummed JSON (shared by every driver, wherever it keeps them).
    static func encode(_ metadata: SRMetadata) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let body = try [UInt8](encoder.encode(metadata))
        return ChecksummedFile.encode(kind: kind, version: version, body: body)
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> SRMetadata {
        let body = try ChecksummedFile.decode(bytes, kind: kind, version: version, path: path)
        do { return try JSONDecoder().decode(SRMetadata.self, from: Data(body)) } catch {
            throw SREngineError.metadataCorrupt(path: path, detail: "undecodable: \(error)")
        }
    }
}
