import Foundation
import Glibc
import NFSStore
import Synchronization

/// The SR lease on the server: a file created exclusively (GUARDED / EXCLUSIVE CREATE, atomic
/// on the server, unlike locks the server may not implement), naming the holding host and
/// when the lease expires. Together with the local fcntl SR lock (one holder per host) it
/// keeps two hosts from writing an SR's metadata and journals at once.
///
/// A lease older than its expiry is broken (its holder died): it is renamed aside, and if
/// what was renamed turns out not to be the stale lease (another host broke it and took a
/// new one meanwhile) that one is linked back. Expiry compares wall clocks across hosts, so
/// hosts must agree on the time within the lease duration (they run NTP in a pool).
final class NFSLease: LockCompanion, @unchecked Sendable {
    let connection: NFSConnection
    let path: String
    let hostID: String
    private let state = Mutex<State>(State())

    struct State {
        var held = false
        var expires: Double = 0
    }

    /// The holder's record in the lease file.
    struct Record: Equatable {
        var host: String
        var expires: Double

        var bytes: [UInt8] { Array("host=\(host)\nexpires=\(expires)\n".utf8) }

        init(host: String, expires: Double) {
            self.host = host
            self.expires = expires
        }

        init?(_ bytes: [UInt8]) {
            var fields: [String: String] = [:]
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { fields[kv[0]] = kv[1] }
            }
            guard let host = fields["host"], let expires = fields["expires"].flatMap(Double.init) else { return nil }
            self.init(host: host, expires: expires)
        }
    }

    init(connection: NFSConnection, path: String, hostID: String) {
        self.connection = connection
        self.path = path
        self.hostID = hostID
    }

    var isHeld: Bool { state.withLock { $0.held } }

    static func wallClock() -> Double { Date().timeIntervalSince1970 }

    func acquire(timeout: Double) throws -> Bool {
        let deadline = LockFile.now() + timeout
        while true {
            let record = Record(host: hostID, expires: Self.wallClock() + SRLimits.nfsLeaseSeconds)
            do {
                try connection.writeFile(path, record.bytes, exclusive: true)
                taken(record)
                return true
            } catch let e as NFSError where e.errno == EEXIST {
                if try takeOverIfOursOrStale(record) { return true }
            }
            if LockFile.now() > deadline { return false }
            usleep(SRLimits.nfsLeasePollMicroseconds)
        }
    }

    /// A lease left by this host (a process that died holding it; this host's fcntl lock is
    /// held now, so no live process of ours owns it) is taken over; a stale one is broken.
    private func takeOverIfOursOrStale(_ fresh: Record) throws -> Bool {
        guard let bytes = try? connection.readFile(path, limit: 4096) else { return false }  // vanished: retry
        guard let current = Record(bytes) else {
            // Torn or foreign content: treat it as stale only once it is old.
            guard let st = try connection.status(path), Double(st.modificationTime) + SRLimits.nfsLeaseSeconds < Self.wallClock() else {
                return false
            }
            try breakLease(expected: bytes)
            return false
        }
        if current.host == hostID {
            try connection.writeFile(path, fresh.bytes)
            taken(fresh)
            return true
        }
        if current.expires < Self.wallClock() { try breakLease(expected: bytes) }
        return false
    }

    private func breakLease(expected: [UInt8]) throws {
        let aside = "\(path).broken.\(hostID).\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        do { try connection.rename(path, to: aside) } catch let e as NFSError where e.errno == ENOENT { return }
        defer { try? connection.remove(aside) }
        if (try? connection.readFile(aside, limit: 4096)) != expected {
            // We moved a lease someone took after our read: put it back unless a newer one exists.
            try? connection.link(aside, to: path)
        }
    }

    private func taken(_ record: Record) {
        state.withLock {
            $0.held = true
            $0.expires = record.expires
        }
    }

    /// Extends the lease when half of it has passed (metadata writes call this), so a long
    /// operation keeps it.
    func renewIfNeeded() throws {
        let expires = state.withLock { $0.expires }
        guard Self.wallClock() > expires - SRLimits.nfsLeaseSeconds / 2 else { return }
        let record = Record(host: hostID, expires: Self.wallClock() + SRLimits.nfsLeaseSeconds)
        try connection.writeFile(path, record.bytes)
        taken(record)
    }

    func release() {
        let wasHeld = state.withLock { s -> Bool in
            defer { s.held = false }
            return s.held
        }
        guard wasHeld else { return }
        // Remove only our own lease (after a break by another host it may be theirs).
        if let bytes = try? connection.readFile(path, limit: 4096), Record(bytes)?.host == hostID {
            try? connection.remove(path)
        }
    }
}

/// Who this host is, for the lease: `$SM_HOST_ID`, else XenServer's installation uuid, else
/// the machine id, else the host name.
public enum NFSHostIdentity {
    public static func current(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let id = environment["SM_HOST_ID"], !id.isEmpty { return id }
        if let inventory = try? String(contentsOfFile: "/etc/xensource-inventory", encoding: .utf8),
           let line = inventory.split(separator: "\n").first(where: { $0.hasPrefix("INSTALLATION_UUID=") }) {
            return line.dropFirst("INSTALLATION_UUID=".count).filter { $0 != "'" && $0 != "\"" }
        }
        if let id = try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8).filter({ !$0.isWhitespace }), !id.isEmpty {
            return id
        }
        return ProcessInfo.processInfo.hostName
    }
}
