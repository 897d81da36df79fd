import XMLRPC

/// What one invocation produces: the single message for stdout and the lines for stderr.
public struct PluginOutcome: Sendable, Equatable {
    public var message: XMLRPCMessage
    public var diagnostics: [String]

    public init(message: XMLRPCMessage, diagnostics: [String] = []) {
        self.message = message
        self.diagnostics = diagnostics
    }

    /// The methodResponse text, exactly what goes to stdout.
    public var responseText: String { XMLRPCEncoder.encode(message) }

    /// The stderr text (empty or newline-terminated lines).
    public var diagnosticText: String { diagnostics.map { $0 + "\n" }.joined() }
}
