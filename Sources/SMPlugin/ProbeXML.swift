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
}
