import Foundation

/// The durable intent of a multi-step operation, written before its first step and removed
/// after its last, so that a restart after kill -9 finishes it or undoes it (see
/// `JournalRecovery`). Every step is idempotent: replaying a step already done changes nothing.
struct Journal: Codable, Equatable {
    enum Kind: String, Codable {
        case create, snapshot, destroy, resize
        /// The collector's merge of a hidden node into its parent (`Coalesce.swift`).
        case coalesce
        /// The collector's offline merge of a leaf into its parent (`LeafCoalesce.swift`).
        case leafCoalesce = "leaf-coalesce"
        /// Putting a VDI's leaf on top of another VDI (`VDICompose.swift`).
        case compose
    }

    var kind: Kind
    /// The VDI the operation is about (created, snapshotted, destroyed, resized).
    var vdi: String
    /// create: the record to store; snapshot: the record of the new leaf (or base) to store.
    var record: VDIRecord?
    /// snapshot: the original's record before the snapshot (the base copy inherits it).
    var original: VDIRecord?
    /// create: the parent image the new leaf is a child of (nil for an empty VDI).
    var parent: String?
    /// snapshot: the uuid given to the base copy.
    var base: String?
    /// snapshot: the new leaf next to the original (double snapshots and clones).
    var leaf: String?
    var snapshotType: SnapshotType?
    /// snapshot: xe-style time stamp stored in the new records.
    var time: String?
    /// destroy: hidden ancestors removed with the VDI.
    var garbage: [String]?
    /// resize: the new virtual size.
    var newSize: UInt64?
    /// coalesce: the children relinked to `parent` once the data is merged.
    var children: [String]?
    /// coalesce: `relinking` once the data is merged (the commit: recovery then finishes).
    var phase: String?

    init(kind: Kind, vdi: String) {
        self.kind = kind
        self.vdi = vdi
    }

    var name: String { "\(kind.rawValue)-\(vdi)" }

    static let fileKind = "sm-journal"
    static let version = 1

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return ChecksummedFile.encode(kind: Self.fileKind, version: Self.version, body: try [UInt8](encoder.encode(self)))
    }

    static func decode(_ bytes: [UInt8], name: String) throws -> Journal {
        let body = try ChecksummedFile.decode(bytes, kind: fileKind, version: version, path: name)
        do { return try JSONDecoder().decode(Journal.self, from: Data(body)) } catch {
            throw SREngineError.metadataCorrupt(path: name, detail: "undecodable journal: \(error)")
        }
    }
}

/// XenServer's snapshot variants (`driver-params:type=`).
public enum SnapshotType: String, Codable, Sendable, CaseIterable {
    /// The leaf becomes a hidden read-only base copy with two children: the original
    /// (still writable) and the new snapshot or clone. SM's default for both.
    case double
    /// One child only: the base itself is the visible, read-only snapshot.
    case single
    /// Like single but the base stays a hidden base copy (used by garbage collection).
    case `internal`
}
