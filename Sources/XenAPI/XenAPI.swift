// XenAPI client: placeholder until the plugin mirrors into XAPI.
import XMLRPC
