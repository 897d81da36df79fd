import XMLRPC
