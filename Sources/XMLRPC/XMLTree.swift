import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML element: just what XML-RPC needs (names, children, text).
final class ParsedElement {
    let name: String
    var children: [ParsedElement] = []
    var text = ""

    init(name: String) { self.name = name }

    /// Child elements named `name`.
    func elements(_ name: String) -> [ParsedElement] { children.filter { $0.name == name } }

    /// Parses a whole document; the root element.
    static func parse(_ data: Data) throws(XMLRPCError) -> ParsedElement {
        let builder = TreeBuilder()
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        let ok = parser.parse()
        guard ok, let root = builder.root else {
            throw .notXML(line: parser.lineNumber, column: parser.columnNumber,
                          reason: builder.failure ?? parser.parserError.map { "\($0)" } ?? "no root element")
        }
        // libxml2 behind XMLParser can report success on a truncated document.
        if let open = builder.stack.last {
            throw .notXML(line: parser.lineNumber, column: parser.columnNumber,
                          reason: "the document ends inside <\(open.name)>")
        }
        return root
    }
}

/// Builds the element tree from parser events.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    var root: ParsedElement?
    var stack: [ParsedElement] = []
    var failure: String?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        let element = ParsedElement(name: name)
        if let parent = stack.last { parent.children.append(element) } else if root == nil { root = element }
        stack.append(element)
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        _ = stack.popLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, foundCDATA block: Data) {
        stack.last?.text += String(decoding: block, as: UTF8.self)
    }

    func parser(_ parser: XMLParser, parseErrorOccurred error: Error) {
        failure = failure ?? "\(error)"
    }
}
