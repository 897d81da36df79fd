import XMLRPC

/// sr_probe's answer: XenServer's `<SRlist>` document, returned as one XML-RPC string that
/// XAPI hands to its caller unparsed (XenCenter and `xe sr-probe` read it).
public enum ProbeXML {
    /// `<SRlist><SR><UUID>…</UUID></SR>…</SRlist>`, pretty-printed with tabs as SM's minidom does.
    public static func srList(_ uuids: [String]) -> String {
        var out = "<?xml version=\"1.0\" ?>\n<SRlist>\n"
        for uuid in uuids {
            out += "\t<SR>\n\t\t<UUID>\(XMLRPCEncoder.escape(uuid))</UUID>\n\t</SR>\n"
        }
        return out + "</SRlist>\n"
    }

    /// `<nfs-exports><Export><Target>…</Target><Path>…</Path><Accesslist>*</Accesslist></Export>…</nfs-exports>`:
    /// what XenServer's NFS probe without `serverpath` prints on stderr (XAPI hands stderr to
    /// the caller as the error's third field, and XenCenter parses it). MOUNT's export list
    /// over libnfs carries no client list, so every export shows `*`.
    public static func nfsExports(server: String, paths: [String]) -> String {
        var out = "<?xml version=\"1.0\" ?>\n<nfs-exports>\n"
        for path in paths {
            out += "\t<Export>\n\t\t<Target>\(XMLRPCEncoder.escape(server))</Target>\n"
            out += "\t\t<Path>\(XMLRPCEncoder.escape(path))</Path>\n\t\t<Accesslist>*</Accesslist>\n\t</Export>\n"
        }
        return out + "</nfs-exports>\n"
    }
}
