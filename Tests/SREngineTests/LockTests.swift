import TestSupport
import Foundation
import Synchronization
import Testing

@testable import SREngine

/// Locks exclude threads of one process (fcntl alone would not) and time out.
@Suite struct LockTests {
    @Test func threadsOfOneProcessExcludeEachOther() throws {
        let dir = TempDir()
        let path = dir.path + "/ns/sr"
        let inside = Mutex(0), maxInside = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<20 {
                let lock = LockFile(path: path)
                guard (try? lock.acquire()) == true else { return }
                let n = inside.withLock { $0 += 1; return $0 }
                maxInside.withLock { $0 = max($0, n) }
                usleep(200)
                inside.withLock { $0 -= 1 }
                lock.release()
            }
        }
        #expect(maxInside.withLock { $0 } == 1)
    }

    @Test func acquireTimesOut() throws {
        let dir = TempDir()
        let holder = LockFile(path: dir.path + "/l")
        #expect(try holder.acquire())
        let done = Mutex<Bool?>(nil)
        let path = dir.path + "/l"
        let t = Thread {
            let other = LockFile(path: path)
            done.withLock { $0 = try? other.acquire(timeout: 0.05) }
        }
        t.start()
        while done.withLock({ $0 }) == nil { usleep(1000) }
        #expect(done.withLock { $0 } == false)
        holder.release()
    }

    /// Several threads, each with its own attachment, creating, snapshotting and destroying
    /// VDIs on one SR: afterwards every record matches an image and every image checks clean.
    @Test func concurrentOperationsInOneProcess() throws {
        let t = try TestSR()
        let uuid = t.sr.uuid, dc = t.deviceConfig
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            do {
                let sr = try SRManager().attach(uuid: uuid, type: "file", deviceConfig: dc)
                for _ in 0..<3 {
                    let v = try sr.createVDI(VDISpec(virtualSize: 4 << 20, nameLabel: "t\(i)"))
                    let s = try sr.snapshot(v.uuid)
                    let c = try sr.snapshot(s.uuid, clone: true)
                    try sr.destroyVDI(s.uuid)
                    try sr.destroyVDI(c.uuid)
                }
            } catch {
                failures.withLock { $0.append("\(i): \(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        try expectConsistent(t.sr)
        #expect(try t.sr.vdis().filter(\.managed).count == 4 * 3)
    }
}
