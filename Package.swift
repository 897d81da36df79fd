// swift-tools-version: 6.1
// The storage manager: SR/VDI engine, image formats, and a block I/O data path on io_uring.
import PackageDescription

/// The per-request hot path (event loop, image maps, NBD framing, the data path) skips Swift's
/// dynamic exclusivity checks in release builds: they were ~4% of the daemon's CPU at 4 KiB
/// QD32. Debug builds (and so the tests) keep them, and catch any violation there.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "StorageManager",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sm-cli", targets: ["sm-cli"]),
        .executable(name: "blockio-bench", targets: ["BlockIOBench"]),
        .executable(name: "sm-tapdisk", targets: ["sm-tapdisk"]),
        .executable(name: "sm-bench", targets: ["sm-bench"]),
        .executable(name: "sm-plugin", targets: ["sm-plugin"]),
        .executable(name: "sm-gc", targets: ["sm-gc"]),
        .library(name: "StorageIO", targets: ["StorageIO"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // C shims: every C library the product links sits behind one of these.
        .target(name: "CURing", path: "CShims/CURing", linkerSettings: [.linkedLibrary("uring")]),
        .systemLibrary(name: "CAIO", path: "CShims/CAIO", providers: [.apt(["libaio-dev"])]),
        .systemLibrary(name: "CZlib", path: "CShims/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CNFS", path: "CShims/CNFS", providers: [.apt(["libnfs-dev"])]),
        .systemLibrary(name: "CNBD", path: "CShims/CNBD", providers: [.apt(["libnbd-dev"])]),
        // Test-only: seccomp profiles that refuse io_uring, to exercise the fallbacks.
        .target(name: "CSandbox", path: "CShims/CSandbox"),
        .systemLibrary(name: "CISCSI", path: "CShims/CISCSI", providers: [.apt(["libiscsi-dev"])]),

        // BlockIO seam: the byte-addressed store protocol, the event loop and the file engines.
        .target(name: "StorageIO", dependencies: [
            "CURing", "CAIO",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotPath),
        // Deterministic simulated disk with seeded crash and fault injection (for tests).
        .target(name: "StorageSimulation", dependencies: ["StorageIO"]),
        // DiskImage seam: raw, VHD (and later qcow2) images and image chains over BlockIO.
        .target(name: "ImageFormats", dependencies: ["StorageIO", "CZlib"], swiftSettings: hotPath),
        // BlockIO and file-namespace operations over NFS in user space (libnfs's async API on our loop).
        .target(name: "NFSStore", dependencies: [
            "StorageIO", "CNFS",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // BlockIO over an NBD connection (libnbd's async API on our event loop): any NBD server as a store.
        .target(name: "NBDClient", dependencies: ["StorageIO", "CNBD"]),
        // Drives a BlockIO with fio-style workloads and measures it (sm-bench, benchmarks).
        .target(name: "LoadGenerator", dependencies: [
            "StorageIO",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),

        // The SR/VDI engine: StorageRepository seam, SR drivers (local file), metadata, locks,
        // and the multi-step VDI operations (create, snapshot, clone, resize, destroy).
        .target(name: "SREngine", dependencies: [
            "StorageIO", "ImageFormats", "NFSStore",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The SM error table (XenServer's names and codes) shared by every front end.
        .target(name: "SMErrors", dependencies: ["SREngine", "ImageFormats", "StorageIO"]),
        // sm-cli's library: xe-style commands and records over the engine.
        .target(name: "OperatorCLI", dependencies: ["SREngine", "SMErrors", "ImageFormats", "StorageIO", "TapControl"]),
        // The SMAPIv1 plugin: XAPI's XML-RPC calls dispatched onto the engine.
        .target(name: "SMPlugin", dependencies: ["SREngine", "SMErrors", "XMLRPC", "XenAPI", "ImageFormats", "StorageIO", "TapControl"]),
        .executableTarget(name: "sm-plugin", dependencies: ["SMPlugin"]),
        // XML-RPC as XAPI and SM speak it (for the SMAPIv1 plugin and the XenAPI client).
        .target(name: "XMLRPC"),
        // A XenAPI client (XML-RPC over HTTP) through which the plugin mirrors its changes into XAPI's database.
        .target(name: "XenAPI", dependencies: ["XMLRPC", "StorageIO"]),
        // NBD: wire format and the negotiation/transmission state machines (no I/O).
        .target(name: "NBD", swiftSettings: hotPath),
        // The data path (tapdisk-like): NBD server and exports on one io_uring event loop.
        .target(name: "DataPath", dependencies: [
            "StorageIO", "ImageFormats", "NBD", "NFSStore",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotPath),
        // Starting, finding, pausing and stopping data-path daemons through their control sockets.
        .target(name: "TapControl", dependencies: ["SREngine", "DataPath", "StorageIO"]),
        .executableTarget(name: "sm-tapdisk", dependencies: [
            "DataPath", "StorageIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // sm-bench's library: fio job files and options, targets, reports (fio JSON), compare mode.
        .target(name: "BenchHarness", dependencies: [
            "LoadGenerator", "StorageIO", "NBDClient", "SREngine", "ImageFormats",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        .executableTarget(name: "sm-bench", dependencies: ["BenchHarness"]),

        // The per-SR background worker (SM's cleanup.py -b): refills the blank pool, collects garbage.
        .executableTarget(name: "sm-gc", dependencies: [
            "SREngine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "sm-cli", dependencies: [
            "StorageIO", "OperatorCLI", "SREngine",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "BlockIOBench", dependencies: [
            "StorageIO", "LoadGenerator",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], path: "Benchmarks/BlockIOBench"),

        .executableTarget(name: "SnapshotBench", dependencies: ["SREngine"], path: "Benchmarks/SnapshotBench"),

        // Helpers every test target shares: temp dirs, external tools, built products, step probes.
        .target(name: "TestSupport", dependencies: ["SREngine"], path: "Tests/TestSupport"),

        .testTarget(name: "StorageIOTests", dependencies: ["StorageIO", "StorageSimulation", "CZlib", "CURing", "CSandbox"]),
        .testTarget(name: "StorageSimulationTests", dependencies: ["StorageIO", "StorageSimulation"]),
        .testTarget(name: "BenchHarnessTests", dependencies: ["BenchHarness", "LoadGenerator", "StorageIO", "SREngine"]),
        .testTarget(name: "SREngineTests", dependencies: ["TestSupport", "SREngine", "ImageFormats", "StorageIO", "StorageSimulation"]),
        .testTarget(name: "OperatorCLITests", dependencies: ["TestSupport", "OperatorCLI", "SMErrors", "SREngine", "ImageFormats", "StorageIO"]),
        .testTarget(name: "XMLRPCTests", dependencies: ["XMLRPC"]),
        .testTarget(name: "SMPluginTests", dependencies: ["TestSupport", "SMPlugin", "XMLRPC", "SREngine", "SMErrors", "ImageFormats", "StorageIO"]),
        .testTarget(name: "GarbageCollectorTests", dependencies: ["TestSupport", "SREngine", "ImageFormats", "StorageIO", "StorageSimulation"]),
        .testTarget(name: "NBDTests", dependencies: ["NBD"]),
        .testTarget(name: "TapControlTests", dependencies: ["TestSupport", "TapControl", "DataPath", "SREngine", "NBDClient", "StorageIO", "ImageFormats"]),
        .testTarget(name: "NFSTests", dependencies: ["TestSupport", "NFSStore", "SREngine", "DataPath", "NBDClient", "StorageIO", "ImageFormats"]),
        .testTarget(name: "XenAPITests", dependencies: ["TestSupport", "XenAPI", "XMLRPC", "SMPlugin", "SREngine"]),
        .testTarget(name: "DataPathTests", dependencies: ["DataPath", "NBD", "StorageIO", "ImageFormats", "StorageSimulation"]),
        .testTarget(name: "ImageFormatsTests", dependencies: [
            "ImageFormats", "StorageIO", "StorageSimulation", "TestSupport",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
    ]
)
