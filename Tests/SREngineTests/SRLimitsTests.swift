import ImageFormats
import Testing

@testable import SREngine

/// The engine's limits agree with each other and with the VHD format's.
@Suite struct SRLimitsTests {
    @Test func limitsRelate() {
        #expect(SRLimits.vdiSizeMin < SRLimits.vdiSizeMax)
        #expect(SRLimits.vdiSizeMin % SRLimits.vdiSizeGranule == 0)
        #expect(SRLimits.vdiSizeMax % SRLimits.vdiSizeGranule == 0)
        #expect(SRLimits.vdiSizeMax == 2040 << 30)
        #expect(SRLimits.chainDepthMax == 30)
        #expect(SRLimits.chainDepthMax <= VHDLimits.chainDepthMax)
        #expect(UInt64(SRLimits.copyChunkBytes) % SRLimits.vdiSizeGranule == 0)
        #expect(SRLimits.spaceSlackBytes >= UInt64(SRLimits.metadataBytesMax) / 16)
        #expect(SRLimits.journalBytesMax < SRLimits.metadataBytesMax)
    }

    @Test func sizesRoundAsSMDoes() throws {
        #expect(try AttachedSR.validatedSize(1) == 2 << 20)
        #expect(try AttachedSR.validatedSize((2 << 20) + 1) == 4 << 20)
        #expect(try AttachedSR.validatedSize(SRLimits.vdiSizeMax) == SRLimits.vdiSizeMax)
        #expect(throws: SREngineError.self) { try AttachedSR.validatedSize(0) }
        #expect(throws: SREngineError.self) { try AttachedSR.validatedSize(SRLimits.vdiSizeMax + 1) }
        #expect(throws: SREngineError.self) { try AttachedSR.validatedSize(2 << 40) }
    }

    @Test func emptyImageFootprintCoversWhatCreateWrites() throws {
        let t = try TestSR()
        for size: UInt64 in [2 << 20, 100 << 20, 64 << 30, SRLimits.vdiSizeMax] {
            let v = try t.sr.createVDI(VDISpec(virtualSize: size))
            let allocated = try #require(t.sr.repository.volumeUsage("\(v.uuid).vhd")).allocated
            #expect(allocated <= SpaceAccounting.emptyImageBytes(virtualSize: size), "size \(size)")
        }
    }
}
