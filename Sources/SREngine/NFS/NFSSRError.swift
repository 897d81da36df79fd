import NFSStore

/// What only the NFS SR reports.
public enum NFSSRError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A probe without `serverpath`: the server's exports, which the caller shows as
    /// XenServer's `<nfs-exports>` document with ConfigServerPathMissing.
    case serverPathMissing(server: String, exports: [String])

    public var description: String {
        switch self {
        case let .serverPathMissing(server, exports):
            "device-config 'serverpath' is required; \(server) exports \(exports.isEmpty ? "nothing" : exports.joined(separator: ", "))"
        }
    }

    /// `<nfs-exports><Export><Target>…</Target><Path>…</Path><Accesslist>*</Accesslist></Export>…</nfs-exports>`,
    /// pretty-printed as SM's minidom prints it.
    public var exportsXML: String {
        guard case let .serverPathMissing(server, exports) = self else { return "" }
        var out = "<?xml version=\"1.0\" ?>\n<nfs-exports>\n"
        for path in exports {
            out += "\t<Export>\n\t\t<Target>\(Self.escape(server))</Target>\n\t\t<Path>\(Self.escape(path))</Path>\n"
            out += "\t\t<Accesslist>*</Accesslist>\n\t</Export>\n"
        }
        return out + "</nfs-exports>\n"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
