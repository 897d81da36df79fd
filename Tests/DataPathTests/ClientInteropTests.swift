import DataPath
import Foundation
import NBD
import StorageIO
import Testing

/// Serves a raw file from `directory`; O_DIRECT unless `buffered`.
func rawFileServer(_ path: String, directory: ScratchDirectory, readOnly: Bool = false) throws -> ServerHarness {
    try ServerHarness(directory: directory) { loop in
        let store = try LocalFile.open(path, on: loop, options: LocalFile.Options(readOnly: readOnly))
        return [ServedExport(name: "vdi", description: "test disk", backend: BlockIOExport(store: store, readOnly: readOnly))]
    }
}

/// The real NBD clients against the server: the tests skip a tool that is not installed.
@Suite("Real clients: nbdinfo, nbdcopy, qemu-img, fio", .serialized)
struct ClientInteropTests {
    static let size = 8 << 20

    @Test("nbdinfo sees the export, --list lists it, --map reports base:allocation")
    func nbdinfo() throws {
        let dir = try ScratchDirectory()
        let image = dir.file("disk.img")
        writeFile(image, pattern(count: Self.size, seed: 1))
        let server = try rawFileServer(image, directory: dir)
        defer { server.stop() }
        guard let info = try runTool("nbdinfo", [server.uri]) else { return }
        #expect(info.status == 0, "\(info.output)")
        #expect(info.output.contains("export-size: \(Self.size)"))
        #expect(info.output.contains("can_multi_conn: true"))
        #expect(info.output.contains("block_size_minimum: 512") || info.output.contains("block_size_minimum: 4096"))
        #expect(info.output.contains("base:allocation"))
        let list = try #require(try runTool("nbdinfo", ["--list", "nbd+unix:///?socket=\(server.socketPath)"]))
        #expect(list.status == 0, "\(list.output)")
        #expect(list.output.contains("export=\"vdi\""))
        let map = try #require(try runTool("nbdinfo", ["--map", server.uri]))
        #expect(map.status == 0, "\(map.output)")
        let fields = map.output.split(whereSeparator: \.isWhitespace)
        #expect(fields.prefix(4).map(String.init) == ["0", "\(Self.size)", "0", "data"], "\(map.output)")
    }

    @Test("nbdcopy copies out and back in, byte for byte")
    func nbdcopy() throws {
        let dir = try ScratchDirectory()
        let image = dir.file("disk.img")
        let original = pattern(count: Self.size, seed: 2)
        writeFile(image, original)
        let server = try rawFileServer(image, directory: dir)
        defer { server.stop() }
        let out = dir.file("out.img")
        guard let copy = try runTool("nbdcopy", [server.uri, out]) else { return }
        #expect(copy.status == 0, "\(copy.output)")
        #expect(FileManager.default.contents(atPath: out) == Data(original))

        let incoming = pattern(count: Self.size, seed: 3)
        let source = dir.file("in.img")
        writeFile(source, incoming)
        let back = try #require(try runTool("nbdcopy", [source, server.uri]))
        #expect(back.status == 0, "\(back.output)")
        let cmp = try #require(try runTool("cmp", [source, image]))
        #expect(cmp.status == 0, "\(cmp.output)")
    }

    @Test("qemu-img info and compare over nbd+unix")
    func qemuImg() throws {
        let dir = try ScratchDirectory()
        let image = dir.file("disk.img")
        writeFile(image, pattern(count: Self.size, seed: 4))
        let copy = dir.file("copy.img")
        writeFile(copy, pattern(count: Self.size, seed: 4))
        let server = try rawFileServer(image, directory: dir, readOnly: true)
        defer { server.stop() }
        guard let info = try runTool("qemu-img", ["info", server.uri]) else { return }
        #expect(info.status == 0, "\(info.output)")
        #expect(info.output.contains("virtual size: 8 MiB (\(Self.size) bytes)"))
        let same = try #require(try runTool("qemu-img", ["compare", "-f", "raw", "-F", "raw", copy, server.uri]))
        #expect(same.status == 0, "\(same.output)")
        writeFile(copy, pattern(count: Self.size, seed: 5))
        let differ = try #require(try runTool("qemu-img", ["compare", "-f", "raw", "-F", "raw", copy, server.uri]))
        #expect(differ.status == 1, "compare must see the difference: \(differ.output)")
    }

    @Test("fio --ioengine=nbd: random writes at depth 32 verify, with fsync")
    func fioVerify() throws {
        let dir = try ScratchDirectory()
        let image = dir.file("disk.img")
        writeFile(image, [UInt8](repeating: 0, count: Self.size))
        let server = try rawFileServer(image, directory: dir)
        defer { server.stop() }
        guard let fio = try runTool("fio", [
            "--name=verify", "--ioengine=nbd", "--uri=\(server.uri)", "--rw=randwrite", "--bs=4k",
            "--iodepth=32", "--size=\(Self.size)", "--verify=crc32c", "--do_verify=1", "--fsync=64",
            "--randrepeat=1", "--output-format=normal",
        ], timeout: 40) else { return }
        #expect(fio.status == 0, "\(fio.output)")
        #expect(fio.output.contains("err= 0"), "\(fio.output)")
    }
}
