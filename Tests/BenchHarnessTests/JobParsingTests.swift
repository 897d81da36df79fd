@testable import BenchHarness
import LoadGenerator
import Testing

@Suite("fio job files and options")
struct JobParsingTests {
    @Test("a job file with [global], two jobs, comments and bare flags")
    func jobFile() throws {
        let text = """
            ; random read then write
            [global]
            filename=/dev/null
            bs=4k
            direct=1
            time_based
            runtime=10s
            # a comment
            [reader]
            rw=randread
            iodepth=32

            [writer]
            stonewall
            rw=randwrite
            numjobs=2
            size=1g
            offset=1m
            verify=crc32c
            fsync=32
            group_reporting
            """
        let jobs = try JobFile.parse(text, file: "jobs.fio")
        #expect(jobs.map(\.name) == ["reader", "writer"])
        #expect(jobs[0].pattern == .randread && jobs[0].ioDepth == 32 && jobs[0].blockSize == 4096)
        #expect(jobs[0].direct && jobs[0].timeBased && jobs[0].runtimeSeconds == 10)
        #expect(jobs[0].target == "/dev/null" && !jobs[0].stonewall)
        #expect(jobs[1].pattern == .randwrite && jobs[1].numJobs == 2 && jobs[1].size == 1 << 30)
        #expect(jobs[1].offset == 1 << 20 && jobs[1].verify && jobs[1].fsync == 32)
        #expect(jobs[1].groupReporting && jobs[1].stonewall && jobs[1].ioDepth == 1)
    }

    @Test("errors name the file, the line and the key")
    func jobFileErrors() {
        #expect(throws: JobFileError.unknownKey(OptionSource(file: "a.fio", line: 3), key: "blocksz")) {
            try JobFile.parse("[j]\nrw=read\nblocksz=4k\n", file: "a.fio")
        }
        #expect(throws: JobFileError.badValue(OptionSource(file: "a.fio", line: 2), key: "bs", value: "4q",
                                              expected: "a block size up to 64M")) {
            try JobFile.parse("[j]\nbs=4q\n", file: "a.fio")
        }
        #expect(throws: JobFileError.badValue(OptionSource(file: "a.fio", line: 2), key: "rw", value: "sideways",
                                              expected: "one of read, write, randread, randwrite, randrw, readwrite")) {
            try JobFile.parse("[j]\nrw=sideways\n", file: "a.fio")
        }
        #expect(throws: JobFileError.syntax(OptionSource(file: "a.fio", line: 1), text: "[broken")) {
            try JobFile.parse("[broken\n", file: "a.fio")
        }
        #expect(throws: JobFileError.noJobs("a.fio")) { try JobFile.parse("[global]\nbs=4k\n", file: "a.fio") }
        #expect(throws: JobFileError.badValue(OptionSource(file: "a.fio", line: 2), key: "verify", value: "md5",
                                              expected: "crc32c (the only verify method supported) or 0")) {
            try JobFile.parse("[j]\nverify=md5\n", file: "a.fio")
        }
        let error = JobFileError.unknownKey(OptionSource(file: "a.fio", line: 3), key: "blocksz")
        #expect(error.description == "a.fio:3: unknown option 'blocksz'")
    }

    @Test("values: sizes with suffixes, times with units")
    func values() {
        #expect(OptionValue.size("4k") == 4096)
        #expect(OptionValue.size("1M") == 1 << 20)
        #expect(OptionValue.size("2GiB") == 2 << 30)
        #expect(OptionValue.size("512") == 512)
        #expect(OptionValue.size("x") == nil)
        #expect(OptionValue.seconds("10") == 10)
        #expect(OptionValue.seconds("500ms") == 0.5)
        #expect(OptionValue.seconds("2m") == 120)
        #expect(OptionValue.bool(nil) == true)
        #expect(OptionValue.bool("0") == false)
    }

    @Test("command line: globals before --name, several jobs, job files, own switches")
    func commandLine() throws {
        let files = ["j.fio": "[fromfile]\nrw=write\n"]
        let parsed = try BenchCommandLine.parse(
            ["--bs=8k", "--filename=/tmp/x", "--name=a", "--rw=randread", "--iodepth=4", "--name=b", "--rw=read",
             "j.fio", "--output-format=json", "--rounds=5"],
            readFile: { files[$0]! })
        #expect(parsed.jobs.map(\.name) == ["a", "b", "fromfile"])
        #expect(parsed.jobs.allSatisfy { $0.blockSize == 8192 && $0.target == "/tmp/x" })
        #expect(parsed.jobs[0].ioDepth == 4 && parsed.jobs[1].ioDepth == 1)
        #expect(parsed.outputFormat == .json && parsed.rounds == 5)
        let single = try BenchCommandLine.parse(["--filename=/tmp/x", "--rw=write"], readFile: { _ in "" })
        #expect(single.jobs.count == 1 && single.jobs[0].pattern == .write)
        #expect(throws: JobFileError.badValue(OptionSource(file: "argument 1", line: 0), key: "iodepth", value: "0",
                                              expected: "an integer 1...4096")) {
            try BenchCommandLine.parse(["--iodepth=0"], readFile: { _ in "" })
        }
        #expect(throws: JobFileError.self) { try BenchCommandLine.parse(["--compare=only-one"], readFile: { _ in "" }) }
    }

    @Test("targets: paths, NBD URIs, VDIs")
    func targets() {
        #expect(BenchTarget("/dev/sdb") == .file("/dev/sdb"))
        #expect(BenchTarget("nbd+unix:///x?socket=/s") == .nbd("nbd+unix:///x?socket=/s"))
        #expect(BenchTarget("nbd://127.0.0.1:10809/e") == .nbd("nbd://127.0.0.1:10809/e"))
        #expect(BenchTarget("vdi=1234") == .vdi("1234"))
        #expect(BenchTarget("image:/srv/a.vhd") == .image("/srv/a.vhd"))
    }
}
