import CNFS
import Glibc

/// The export list of a server, for probes without a path (XenServer's `<nfs-exports>`).
public enum NFSExports {
    /// NFSv3: the MOUNT protocol's EXPORT call (on `mountPort` when given, otherwise found
    /// through the server's portmapper). NFSv4 has no MOUNT: the pseudo-root's directories.
    public static func list(_ server: NFSServer) throws -> [String] {
        switch server.version {
        case .v4:
            let root = try NFSConnection(server: server, root: "/")
            return try root.listDirectory("/").map { "/" + $0 }
        case .v3:
            return try mountExports(server)
        }
    }

    /// The state of one EXPORT exchange, passed to libnfs's callbacks.
    private final class Exchange {
        var finished = false
        var failure: String?
        var exports: [String] = []
    }

    private static func mountExports(_ server: NFSServer) throws -> [String] {
        let url = server.url("/")
        guard let rpc = rpc_init_context() else { throw NFSError.mount(url: url, detail: "rpc_init_context failed") }
        defer { rpc_destroy_context(rpc) }
        let exchange = Exchange()
        let token = Unmanaged.passUnretained(exchange).toOpaque()
        let connected: rpc_cb = { rpc, status, _, privateData in
            let exchange = Unmanaged<Exchange>.fromOpaque(privateData!).takeUnretainedValue()
            guard status == RPC_STATUS_SUCCESS else {
                exchange.failure = "cannot reach the MOUNT service: \(rpc.flatMap { rpc_get_error($0) }.map { String(cString: $0) } ?? "")"
                exchange.finished = true
                return
            }
            if rpc_mount3_export_async(rpc, NFSExports.exported, privateData) != 0 {
                exchange.failure = "cannot send MOUNT EXPORT"
                exchange.finished = true
            }
        }
        let rc = server.mountPort.map { rpc_connect_async(rpc, server.host, Int32($0), connected, token) }
            ?? rpc_connect_program_async(rpc, server.host, Int32(MOUNT_PROGRAM), Int32(MOUNT_V3), connected, token)
        guard rc == 0 else { throw NFSError.mount(url: url, detail: String(cString: rpc_get_error(rpc))) }
        let deadline = monotonicNanoseconds() + server.softMount.deadlineNanoseconds
        while !exchange.finished {
            guard monotonicNanoseconds() < deadline else {
                throw NFSError.timedOut(operation: "list exports", url: url, seconds: server.softMount.deadlineSeconds, detail: "")
            }
            var p = pollfd(fd: rpc_get_fd(rpc), events: Int16(truncatingIfNeeded: rpc_which_events(rpc)), revents: 0)
            let ready = poll(&p, 1, 100)
            if rpc_service(rpc, ready < 0 ? -1 : Int32(p.revents)) < 0 && !exchange.finished {
                throw NFSError.mount(url: url, detail: String(cString: rpc_get_error(rpc)))
            }
        }
        if let failure = exchange.failure { throw NFSError.mount(url: url, detail: failure) }
        return exchange.exports
    }

    private static let exported: rpc_cb = { rpc, status, data, privateData in
        let exchange = Unmanaged<Exchange>.fromOpaque(privateData!).takeUnretainedValue()
        exchange.finished = true
        guard status == RPC_STATUS_SUCCESS else {
            exchange.failure = "MOUNT EXPORT failed: \(rpc.flatMap { rpc_get_error($0) }.map { String(cString: $0) } ?? "")"
            return
        }
        // data is a pointer to the `exports` list head.
        var node = data?.assumingMemoryBound(to: exports?.self).pointee
        while let n = node {
            exchange.exports.append(String(cString: n.pointee.ex_dir))
            node = n.pointee.ex_next
        }
    }
}
