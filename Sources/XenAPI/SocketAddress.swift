import Glibc
import StorageIO

/// A socket address held as raw bytes, for connect(2) here and bind(2) in tests.
public struct SocketAddress: Sendable {
    public let family: Int32
    private let bytes: [UInt8]

    /// An AF_UNIX address; the caller has checked the path fits sun_path.
    public static func unix(_ path: String) -> SocketAddress {
        withUnixSocketAddress(path) { address, length in
            SocketAddress(family: AF_UNIX, bytes: Array(UnsafeRawBufferPointer(start: address, count: Int(length))))
        }
    }

    /// The TCP addresses of `host` (a name or a numeric v4/v6 address), in resolver order.
    public static func resolve(host: String, port: UInt16) throws(XenAPIError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .unreachable(endpoint: "\(host):\(port)", errno: 0,
                               detail: "cannot resolve '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var result: [SocketAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let e = entry {
            if let addr = e.pointee.ai_addr {
                let raw = UnsafeRawBufferPointer(start: addr, count: Int(e.pointee.ai_addrlen))
                result.append(SocketAddress(family: e.pointee.ai_family, bytes: Array(raw)))
            }
            entry = e.pointee.ai_next
        }
        return result
    }

    /// The addresses an endpoint names.
    static func of(_ endpoint: XenAPIEndpoint) throws(XenAPIError) -> [SocketAddress] {
        switch endpoint {
        case let .unix(path): [.unix(path)]
        case let .tcp(host, port, _): try resolve(host: host, port: port)
        }
    }

    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        bytes.withUnsafeBytes { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
    }
}
