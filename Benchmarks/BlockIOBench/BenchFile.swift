import LoadGenerator
import StorageIO

/// The raw preallocated file both sides run on: fully written once, so reads hit real
/// blocks and writes overwrite (no allocation inside the measurement).
enum BenchFile {
    static func prepare(path: String, size: UInt64) throws {
        let loop = try EventLoop()
        let store = try LocalFile.open(path, on: loop, options: .init(create: true, direct: true))
        defer { store.close() }
        if store.size == size { return }
        try store.resize(to: size)
        let fill = Workload(pattern: .write, blockSize: 1 << 20, queueDepth: 8, regionLength: size,
                            runtimeSeconds: 3600, timeBased: false)
        _ = try WorkloadRunner(store: store, workload: fill).run()
        try store.flush()
    }
}
