import Testing

@testable import DataPath

/// The control protocol's codec and the stats histogram, without a daemon.
@Suite struct ControlProtocolTests {
    func decode(_ text: String) -> Result<ControlRequest, ControlFailure> { ControlCodec.decodeRequest(Array(text.utf8)) }

    @Test func requestsRoundTrip() throws {
        for request in [ControlRequest(.list), ControlRequest(.stats), ControlRequest(.pause), ControlRequest(.shutdown),
                        ControlRequest(.unpause), ControlRequest(.unpause, path: "/sr/a b.vhd", export: "x")] {
            let line = ControlCodec.encode(request)
            #expect(line.last == UInt8(ascii: "\n") && line.filter { $0 == UInt8(ascii: "\n") }.count == 1)
            #expect(try ControlCodec.decodeRequest(line.dropLast()).get() == request)
        }
        let reply = ControlReply(state: "paused", exports: [ControlExportInfo(
            name: "v", path: "/a/v.vhd", readOnly: false, size: 1 << 20, connections: 2, paused: true, state: "paused")])
        #expect(try ControlCodec.decodeReply(ControlCodec.encode(reply).dropLast()) == reply)
        // Paths are not escaped ("\/"), so a reply line reads as it is.
        #expect(String(decoding: ControlCodec.encode(reply), as: UTF8.self).contains("\"/a/v.vhd\""))
    }

    @Test(arguments: [
        ("", "expected one JSON object"),
        ("pause", "expected one JSON object"),
        ("[1,2]", "expected one JSON object"),
        ("{\"cmd\":\"list\"}", "expected one JSON object"),
        ("{\"command\":7}", "expected one JSON object"),
        ("{\"command\":\"frobnicate\"}", "unknown command \"frobnicate\""),
        ("{\"command\":\"pause\",\"path\":\"/x\"}", "takes no path"),
        ("{\"command\":\"list\",\"export\":\"x\"}", "takes no path"),
        ("{\"command\":\"unpause\",\"path\":\"\"}", "empty"),
        ("{\"command\":\"unpause\",\"path\":5}", "wrong type"),
    ])
    func badRequestsAreNamed(_ text: String, _ expected: String) {
        guard case let .failure(f) = decode(text) else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect(f.kind == .badRequest)
        #expect(f.message.contains(expected), "\(f.message)")
    }

    @Test func histogramBucketsCoverEveryValueTightly() {
        var values: [UInt64] = Array(0...300)
        var v: UInt64 = 301
        while v < UInt64.max / 3 { values += [v, v + 1, v * 2 - 1]; v = v * 3 / 2 }
        values.append(.max)
        var lastIndex = -1
        for value in values.sorted() {
            let i = LatencyHistogram.index(value)
            #expect(i >= lastIndex && i < LatencyHistogram.bucketCount, "\(value)")
            lastIndex = i
            let high = LatencyHistogram.highestValue(i)
            // The bucket holds the value and is at most 1/8 of it wide.
            #expect(high >= value, "\(value) -> bucket \(i) up to \(high)")
            #expect(Double(high - value) <= Double(value) / 8 + 1, "\(value) -> \(high)")
        }
    }

    @Test func percentilesFollowTheRecordedLatencies() throws {
        let stats = ExportStats()
        // 1000 reads: 980 of 10 µs, 19 of 1 ms, 1 of 100 ms; a refused write and a bad command.
        for i in 0..<1000 {
            stats.started()
            let ns: UInt64 = i < 980 ? 10_000 : i < 999 ? 1_000_000 : 100_000_000
            stats.completed(.read, bytes: 4096, failed: i == 0, nanoseconds: ns)
        }
        stats.rejected(.write)
        stats.rejected(nil)
        #expect(stats.inflight == 0)
        let report = stats.report()
        #expect(report.map(\.op) == ["read", "write", "invalid"])
        let read = report[0]
        #expect(read.requests == 1000 && read.bytes == 4_096_000 && read.errors == 1)
        let p = try #require(read.latencyMicroseconds)
        #expect(p.p50 >= 10 && p.p50 <= 11.25)
        #expect(p.p90 >= 10 && p.p90 <= 11.25)
        #expect(p.p99 >= 1000 && p.p99 <= 1125)
        #expect(p.p99_9 >= 1000 && p.p99_9 <= 1125)
        #expect(report[1].requests == 1 && report[1].errors == 1 && report[1].latencyMicroseconds == nil)
    }
}
