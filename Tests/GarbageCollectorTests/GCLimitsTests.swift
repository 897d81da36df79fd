import ImageFormats
import Testing

@testable import SREngine

/// How the collector's limits relate.
@Suite struct GCLimitsTests {
    @Test func limitsRelate() {
        // A merged read spans at least a few whole blocks, and fits one transfer.
        #expect(UInt64(SRLimits.coalesceReadBytesMax) >= 2 * VHDLimits.blockBytesDefault)
        #expect(SRLimits.coalesceReadBytesMax % 4096 == 0)
        // The gap a read may skip holds a bitmap sector and an alignment gap, and is small.
        #expect(SRLimits.coalesceMergeGapBytesMax >= 4096 + 512)
        #expect(SRLimits.coalesceMergeGapBytesMax * 16 <= UInt64(SRLimits.coalesceReadBytesMax))
        // The per-block overhead in the space check covers bitmap and alignment gap.
        #expect(SRLimits.coalesceBlockOverheadBytes >= 4096 + 512)
        #expect(SRLimits.coalesceReadAheadCountMax >= 2)
        // The abort flag is looked at several times per GiB.
        #expect(SRLimits.gcAbortPollBytes >= UInt64(SRLimits.coalesceReadBytesMax) && SRLimits.gcAbortPollBytes <= 256 << 20)
        // A run can merge every image of a full chain many times over.
        #expect(SRLimits.gcPassCountMax >= 4 * SRLimits.chainDepthMax)
    }
}
