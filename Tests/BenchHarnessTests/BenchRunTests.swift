import BenchHarness
import Foundation
import LoadGenerator
import SREngine
import Testing

/// Short real runs on scratch files: verify, fio-shaped JSON, compare mode, NBD targets.
@Suite("sm-bench runs")
struct BenchRunTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "sm-bench-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func job(_ name: String, _ rw: Workload.Pattern, file: String, verify: Bool = false) -> JobSpec {
        var job = JobSpec(name: name)
        job.target = file
        job.pattern = rw
        job.blockSize = 4096
        job.ioDepth = 8
        job.size = 4 << 20
        job.direct = true
        job.verify = verify
        return job
    }

    @Test("verify=crc32c: a write pass then a read pass check out; a corrupted block is named")
    func verify() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/v.img"
        let runner = JobRunner()
        var writer = job("w", .write, file: file, verify: true)
        writer.stonewall = true
        var reader = job("r", .randread, file: file, verify: true)
        reader.stonewall = true
        reader.timeBased = true
        reader.runtimeSeconds = 0.3
        let outcomes = try runner.run([writer, reader])
        #expect(outcomes.allSatisfy { $0.error == nil }, "\(outcomes.map(\.error))")
        #expect(outcomes[0].result.write.bytes == 4 << 20)
        // Flip one byte inside block 5's data: the next verifying read names that offset.
        let handle = try #require(FileHandle(forUpdatingAtPath: file))
        try handle.seek(toOffset: 5 * 4096 + 100)
        try handle.write(contentsOf: Data([0xFF ^ (try handle.read(upToCount: 1)!.first!)]))
        try handle.seek(toOffset: 5 * 4096 + 100)
        try handle.close()
        var sequential = job("check", .read, file: file, verify: true)
        sequential.ioDepth = 1
        let failed = try runner.run([sequential])
        #expect(failed[0].error?.contains("verify failed at offset 20480") == true, "\(failed[0].error ?? "no error")")
    }

    @Test("JSON has fio's shape and the keys fio itself emits")
    func fioJSON() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/j.img"
        var j = job("json", .randrw, file: file)
        j.timeBased = true
        j.runtimeSeconds = 0.3
        let outcomes = try JobRunner().run([j])
        let text = try FioJSON.render(outcomes)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let jobs = try #require(root["jobs"] as? [[String: Any]])
        let read = try #require(jobs[0]["read"] as? [String: Any])
        #expect((read["iops"] as? Double ?? 0) > 0)
        #expect((read["io_bytes"] as? Int ?? 0) > 0)
        let clat = try #require(read["clat_ns"] as? [String: Any])
        let percentiles = try #require(clat["percentile"] as? [String: Any])
        #expect(percentiles["99.000000"] != nil && percentiles["50.000000"] != nil)
        try compareWithRealFio(ours: jobs[0])
    }

    /// Every key path we emit under jobs[0].read/write must exist in real fio's JSON too.
    func compareWithRealFio(ours: [String: Any]) throws {
        guard let fio = findExecutable("fio") else {
            print("skipping the comparison with fio's own JSON: fio is not installed")
            return
        }
        let file = dir + "/fio.img"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: fio)
        process.arguments = ["--name=k", "--filename=\(file)", "--size=1m", "--rw=randrw", "--bs=4k",
                             "--runtime=0.2", "--time_based=1", "--output-format=json"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let start = try #require(data.firstIndex(of: UInt8(ascii: "{")))
        let root = try #require(try JSONSerialization.jsonObject(with: data[start...]) as? [String: Any])
        let theirs = try #require((root["jobs"] as? [[String: Any]])?.first)
        let oursKeys = keyPaths(ours["read"]!, prefix: "read") .union(keyPaths(ours["write"]!, prefix: "write"))
        let theirKeys = keyPaths(theirs["read"]!, prefix: "read").union(keyPaths(theirs["write"]!, prefix: "write"))
        let missing = oursKeys.subtracting(theirKeys)
        #expect(missing.isEmpty, "keys fio does not emit: \(missing.sorted())")
        for key in ["jobname", "groupid", "error", "read", "write", "trim", "sync", "job_runtime"] {
            #expect(theirs[key] != nil && ours[key] != nil, "\(key)")
        }
    }

    func keyPaths(_ value: Any, prefix: String) -> Set<String> {
        guard let object = value as? [String: Any] else { return [prefix] }
        var paths: Set<String> = []
        for (key, child) in object {
            // Percentile keys are fio's data, not its shape.
            if key == "percentile" { paths.insert(prefix + ".percentile"); continue }
            paths.formUnion(keyPaths(child, prefix: prefix + "." + key))
        }
        return paths
    }

    @Test("compare mode alternates targets and reports ratios to the first")
    func compare() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.img", b = dir + "/b.img"
        var j = job("cmp", .randread, file: a)
        j.timeBased = true
        j.runtimeSeconds = 0.2
        _ = try JobRunner().run([job("fill-a", .write, file: a), job("fill-b", .write, file: b)])
        var log: [String] = []
        let rows = try CompareMode(targets: [a, b], rounds: 2).run([j], runner: JobRunner()) { log.append($0) }
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { $0.iops.count == 2 && $0.iops.allSatisfy { $0 > 0 } })
        #expect(rows[0].ratios == [1, 1])
        #expect(log.count == 4)
        #expect(log[0].contains(a) && log[1].contains(b) && log[2].contains(b) && log[3].contains(a))
        let table = CompareMode.render(rows)
        #expect(table.contains("IOPS ratio to first"))
    }

    @Test("an NBD target (qemu-nbd) runs the same job")
    func nbdTarget() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let qemuNBD = findExecutable("qemu-nbd") else {
            print("skipping: qemu-nbd is not installed")
            return
        }
        let file = dir + "/n.img"
        _ = try JobRunner().run([job("fill", .write, file: file, verify: true)])
        let socket = dir + "/n.sock", pidFile = dir + "/n.pid"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: qemuNBD)
        server.arguments = ["-f", "raw", "--cache=none", "--socket=\(socket)", "--pid-file=\(pidFile)", "--persistent", file]
        try server.run()
        // SIGKILL: a child spawned from a test thread may inherit a mask that blocks SIGTERM.
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(20_000) }
        var j = job("nbd", .randread, file: "nbd+unix:///?socket=\(socket)", verify: true)
        j.timeBased = true
        j.runtimeSeconds = 0.3
        let outcomes = try JobRunner().run([j])
        #expect(outcomes[0].error == nil, "\(outcomes[0].error ?? "")")
        #expect(outcomes[0].result.read.ios > 0)
    }

    @Test("vdi= (through the engine and the registry) and image: (a chain by path) targets")
    func vdiAndImageTargets() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let environment = ["SM_REGISTRY": dir + "/registry.json", "SM_LOCK_DIR": dir + "/locks"]
        let location = dir + "/sr"
        try FileManager.default.createDirectory(atPath: location, withIntermediateDirectories: true)
        let manager = SRManager(options: EngineOptions(lockDirectory: environment["SM_LOCK_DIR"]))
        let sr = try manager.create(type: "file", deviceConfig: ["location": location], nameLabel: "bench")
        let vdi = try sr.createVDI(VDISpec(virtualSize: 8 << 20, nameLabel: "v"))
        try HostRegistry(path: environment["SM_REGISTRY"]!).modify {
            $0[sr.uuid] = HostRegistry.Entry(type: "file", deviceConfig: ["location": location])
        }
        let runner = JobRunner(environment: environment)
        var writer = job("w", .write, file: "vdi=\(vdi.uuid)", verify: true)
        writer.size = nil
        var reader = job("r", .randread, file: "vdi=\(vdi.uuid)", verify: true)
        reader.size = nil
        reader.timeBased = true
        reader.runtimeSeconds = 0.2
        reader.stonewall = true
        let outcomes = try runner.run([writer, reader])
        #expect(outcomes.allSatisfy { $0.error == nil }, "\(outcomes.map(\.error))")
        #expect(outcomes[0].result.write.bytes == 8 << 20)
        #expect(outcomes[1].result.read.ios > 0)
        // The same VHD by path, read-only: every block still verifies.
        var byPath = job("p", .read, file: "image:\(location)/\(sr.uuid)/\(vdi.uuid).vhd", verify: true)
        byPath.size = nil
        let direct = try runner.run([byPath])
        #expect(direct[0].error == nil, "\(direct[0].error ?? "")")
        #expect(direct[0].result.read.bytes == 8 << 20)
    }

    @Test("a job without a target and a vdi= target give clear errors")
    func badTargets() throws {
        #expect(throws: JobFileError.noTarget(job: "x")) { _ = try JobRunner().run([JobSpec(name: "x")]) }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var vdi = JobSpec(name: "v")
        vdi.target = "vdi=0000"
        let outcome = try JobRunner(environment: ["SM_REGISTRY": dir + "/registry.json"]).run([vdi])
        #expect(outcome[0].error?.contains("no VDI with uuid 0000") == true, "\(outcome[0].error ?? "")")
    }
}

func findExecutable(_ name: String) -> String? {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
        return "\(dir)/\(name)"
    }
    return nil
}
