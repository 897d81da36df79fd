import Foundation

/// The SRs this host knows between invocations (what xe keeps in xapi's database): uuid,
/// type and device-config. `sr-forget` drops an entry, `sr-introduce` adds one back.
///
/// Location: `--registry PATH`, else `$SM_REGISTRY`, else `$XDG_STATE_HOME/sm-cli/registry.json`,
/// else `~/.local/state/sm-cli/registry.json`. Replaced atomically, under a lock file next to it.
public struct HostRegistry {
    public struct Entry: Codable, Equatable, Sendable {
        public var type: String
        public var deviceConfig: [String: String]

        public init(type: String, deviceConfig: [String: String]) {
            self.type = type
            self.deviceConfig = deviceConfig
        }

        enum CodingKeys: String, CodingKey {
            case type
            case deviceConfig = "device-config"
        }
    }

    public let path: String

    public init(path: String) { self.path = path }

    public static func defaultPath(environment: [String: String]) -> String {
        if let p = environment["SM_REGISTRY"], !p.isEmpty { return p }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/sm-cli/registry.json" }
        return (environment["HOME"] ?? "/root") + "/.local/state/sm-cli/registry.json"
    }

    public func load() throws -> [String: Entry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        do { return try JSONDecoder().decode([String: Entry].self, from: data) } catch {
            throw SREngineError.metadataCorrupt(path: path, detail: "the SR registry is unreadable: \(error)")
        }
    }

    public func entry(_ uuid: String) throws -> Entry {
        guard let e = try load()[uuid] else { throw SREngineError.srNotFound(uuid: uuid) }
        return e
    }

    /// Applies `change` to the registry under its lock and saves it atomically.
    public func modify(_ change: (inout [String: Entry]) throws -> Void) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir.isEmpty ? "." : dir, withIntermediateDirectories: true)
        let lock = LockFile(path: path + ".lock")
        guard try lock.acquire() else { throw SREngineError.lockFailed(path: path + ".lock", detail: "the registry lock timed out") }
        defer { lock.release() }
        var entries = try load()
        try change(&entries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(entries)
        let tmp = path + ".tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else {
            throw SREngineError.system(operation: "write", path: tmp, errno: errno)
        }
        guard rename(tmp, path) == 0 else { throw SREngineError.system(operation: "rename", path: path, errno: errno) }
    }
}
