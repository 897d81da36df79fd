/// A bitmap of the blocks a verifying job wrote: one bit per block of its region.
struct WrittenBlocks {
    private var words: [UInt64]
    let count: Int

    init(count: Int) {
        self.count = count
        words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    mutating func insert(_ block: Int) { words[block >> 6] |= 1 << UInt64(block & 63) }

    func contains(_ block: Int) -> Bool { words[block >> 6] & (1 << UInt64(block & 63)) != 0 }

    /// The next written block at or after `cursor`, advancing it past the result.
    func next(from cursor: inout Int) -> Int? {
        while cursor < count {
            let word = words[cursor >> 6] >> UInt64(cursor & 63)
            if word == 0 {
                cursor = (cursor | 63) + 1
                continue
            }
            let block = cursor + word.trailingZeroBitCount
            cursor = block + 1
            return block < count ? block : nil
        }
        return nil
    }
}
