import Glibc
import StorageIO

/// A socket the server could not set up, with the call and errno that failed.
public struct SocketError: Error, CustomStringConvertible, Equatable {
    public var call: String
    public var address: String
    public var errno: Int32

    public var description: String {
        "\(address): \(call) failed: \(String(cString: strerror(errno)))"
    }
}

/// Small wrappers over the socket calls the server makes, each throwing `SocketError`.
enum Sockets {
    static func setNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// A listening Unix socket at `path`, mode 0600. A stale socket file there is replaced;
    /// any other file is an error.
    static func listenUnix(path: String) throws -> Int32 {
        guard path.utf8.count <= DataPathLimits.unixPathBytesMax else {
            throw SocketError(call: "bind (path longer than \(DataPathLimits.unixPathBytesMax) bytes)", address: path, errno: ENAMETOOLONG)
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFSOCK else {
                throw SocketError(call: "bind (a non-socket file is in the way)", address: path, errno: EEXIST)
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(call: "socket", address: path, errno: errno) }
        let rc = withUnixSocketAddress(path) { bind(fd, $0, $1) }
        // chmod before listen: nobody can connect until listen, so there is no window.
        guard rc == 0, chmod(path, 0o600) == 0, Glibc.listen(fd, Int32(DataPathLimits.listenBacklog)) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SocketError(call: "bind/listen", address: path, errno: code)
        }
        return fd
    }

    /// A listening TCP socket on a loopback address; returns it and the bound port.
    static func listenTCP(host: String, port: UInt16) throws -> (fd: Int32, port: UInt16) {
        let address = "\(host):\(port)"
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        var storage = sockaddr_storage()
        let length: socklen_t
        let family: Int32
        if host == "::1" || host == "[::1]" {
            family = AF_INET6
            var a6 = sockaddr_in6()
            a6.sin6_family = sa_family_t(AF_INET6)
            a6.sin6_port = port.bigEndian
            a6.sin6_addr = in6addr_loopback
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: a6, as: sockaddr_in6.self) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var a4 = sockaddr_in()
            let name = host == "localhost" ? "127.0.0.1" : host
            guard inet_pton(AF_INET, name, &a4.sin_addr) == 1 else {
                throw SocketError(call: "parse (not an IPv4/IPv6 loopback address)", address: address, errno: EINVAL)
            }
            // Loopback only: the data path has no authentication or TLS.
            guard UInt32(bigEndian: a4.sin_addr.s_addr) >> 24 == 127 else {
                throw SocketError(call: "bind (only loopback addresses are allowed)", address: address, errno: EADDRNOTAVAIL)
            }
            family = AF_INET
            a4.sin_family = sa_family_t(AF_INET)
            a4.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: a4, as: sockaddr_in.self) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        let fd = socket(family, flags, 0)
        guard fd >= 0 else { throw SocketError(call: "socket", address: address, errno: errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0, Glibc.listen(fd, Int32(DataPathLimits.listenBacklog)) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SocketError(call: "bind/listen", address: address, errno: code)
        }
        var bound = sockaddr_storage()
        var boundLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &boundLength) }
        }
        let boundPort = withUnsafeBytes(of: &bound) { raw -> UInt16 in
            family == AF_INET6 ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
                               : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
        return (fd, boundPort)
    }

    /// Turns off Nagle on TCP sockets (replies are small and latency-bound); harmless on Unix.
    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
