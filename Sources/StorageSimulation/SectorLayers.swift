/// Durable media under the volatile write cache: the simulated disk's whole data state.
///
/// Reads see the newest bytes (cache over media); writes enter the cache when they complete;
/// flushes and FUA writes move versions down to the media; a crash decides which cached
/// versions made it. Kept apart from the request machinery so the data rules sit in one place.
struct SectorLayers {
    let sectorSize: Int
    private(set) var size: UInt64
    private(set) var durable: DurableMedia
    private(set) var cache = WriteCache()

    init(sectorSize: Int, size: UInt64, durable: DurableMedia? = nil) {
        self.sectorSize = sectorSize
        self.size = size
        self.durable = durable ?? DurableMedia(sectorSize: sectorSize)
    }

    /// The sectors that bytes `offset..<offset+length` touch.
    func sectors(offset: UInt64, length: Int) -> Range<UInt64> {
        let width = UInt64(sectorSize)
        guard length > 0 else { return offset / width..<offset / width }
        return offset / width..<(offset + UInt64(length) + width - 1) / width
    }

    /// What a read returns now: cached over durable, zeros where neither holds anything.
    func newest(_ sector: UInt64) -> [UInt8]? {
        cache.newest(sector) ?? durable[sector]
    }

    /// Copies the newest bytes of `offset..<offset+length` into `buffer`.
    func read(into buffer: UnsafeMutableRawPointer, offset: UInt64, length: Int) {
        copy(into: buffer, offset: offset, length: length) { newest($0) }
    }

    /// Copies what the media alone holds (what would survive if nothing cached did).
    func readDurable(into buffer: UnsafeMutableRawPointer, offset: UInt64, length: Int) {
        copy(into: buffer, offset: offset, length: length) { durable[$0] }
    }

    private func copy(into buffer: UnsafeMutableRawPointer, offset: UInt64, length: Int,
                      source: (UInt64) -> [UInt8]?) {
        var done = 0
        while done < length {
            let position = offset + UInt64(done)
            let sector = position / UInt64(sectorSize)
            let inSector = Int(position % UInt64(sectorSize))
            let count = min(sectorSize - inSector, length - done)
            if let bytes = source(sector) {
                bytes.withUnsafeBytes { raw in
                    (buffer + done).copyMemory(from: raw.baseAddress! + inSector, byteCount: count)
                }
            } else {
                (buffer + done).initializeMemory(as: UInt8.self, repeating: 0, count: count)
            }
            done += count
        }
    }

    /// Applies a completed write (`data` nil: zeros, for discard) to the cache as a new version
    /// of each sector it touches; with `durable`, straight to the media (FUA) instead.
    /// Returns the write's sequence number.
    @discardableResult
    mutating func complete(requestID: UInt64, operation: String, data: UnsafeRawPointer?,
                           offset: UInt64, length: Int, durable makeDurable: Bool) -> UInt64 {
        let sequence = cache.nextSequence()
        let touched = sectors(offset: offset, length: length)
        for sector in touched {
            var bytes = newest(sector) ?? [UInt8](repeating: 0, count: sectorSize)
            let start = max(offset, sector * UInt64(sectorSize))
            let end = min(offset + UInt64(length), (sector + 1) * UInt64(sectorSize))
            let inSector = Int(start - sector * UInt64(sectorSize))
            let count = Int(end - start)
            bytes.withUnsafeMutableBytes { raw in
                if let data {
                    (raw.baseAddress! + inSector).copyMemory(from: data + Int(start - offset), byteCount: count)
                } else {
                    (raw.baseAddress! + inSector).initializeMemory(as: UInt8.self, repeating: 0, count: count)
                }
            }
            if makeDurable {
                durable.store(bytes, at: sector)
                cache.forget(sector: sector)
            } else {
                cache.add(WriteCache.Version(sequence: sequence, bytes: bytes), at: sector)
            }
        }
        if !makeDurable && !touched.isEmpty {
            cache.add(WriteCache.PendingWrite(sequence: sequence, requestID: requestID, operation: operation,
                                              offset: offset, length: length, sectors: touched))
        }
        return sequence
    }

    /// The last write sequence completed so far: what a flush submitted now covers.
    var flushWatermark: UInt64 { cache.lastSequence }

    /// Makes durable every write with sequence <= `watermark`; returns how many there were.
    mutating func flush(through watermark: UInt64) -> Int {
        var media = durable
        let count = cache.retire(through: watermark) { sector, bytes in media.store(bytes, at: sector) }
        durable = media
        return count
    }

    /// Loses every write with sequence <= `watermark` (a failed flush); returns how many.
    /// Reads then return the older bytes at once: the strict reading of fsyncgate, where the
    /// kernel has dropped the pages. (A later cached version of a sector, written after the
    /// flush was submitted, keeps the bytes it was made over: versions are whole sectors.)
    mutating func drop(through watermark: UInt64) -> Int {
        cache.retire(through: watermark, durable: nil)
    }

    mutating func resize(to newSize: UInt64) {
        if newSize < size {
            durable.truncate(to: newSize)
            cache.truncate(to: newSize, sectorSize: sectorSize)
        }
        size = newSize
    }

    /// Replaces the media and empties the cache: the outcome of a crash.
    mutating func settle(durable media: DurableMedia) {
        durable = media
        cache.removeAll()
    }
}
