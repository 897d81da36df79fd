import Glibc
import StorageIO

/// Validates every structure of a VHD on disk, reporting each problem with its offset and
/// field. Works from the store alone, so it also explains images that fail to open.
enum VHDCheck {
    static func run(_ store: any BlockIO) -> CheckReport {
        var r = CheckReport()
        do { try checkAll(store, &r) } catch let e as VHDError {
            r.add(e)
        } catch {
            r.add(.corruption, store.name, 0, "store", "I/O failed during check: \(error)")
        }
        return r
    }

    private static func checkAll(_ store: any BlockIO, _ r: inout CheckReport) throws {
        let file = store.name, size = store.size
        let probe = try VHDFooterProbe.run(store)
        let footer = try probe.chosen.get()
        r.merge(footer.problems(file: file, offset: footer.diskType == .fixed ? probe.trailingOffset : 0, now: Int64(time(nil))))
        if footer.diskType == .fixed {
            if size < footer.currentSize + 512 {
                r.add(.corruption, file, size, "footer.currentSize", "the file is shorter than the disk")
            }
            return
        }
        if let t = probe.trailingFooter {
            if t != footer {
                r.add(.repairable, file, probe.trailingOffset, "footer", "the trailing footer differs from the backup at 0")
            }
        } else {
            r.add(.repairable, file, probe.trailingOffset, "footer", "the trailing footer is missing or damaged")
        }
        if probe.backupFooter == nil {
            r.add(.repairable, file, 0, "footer (backup)", "the backup footer at 0 is missing or damaged")
        }
        // Open validates header, BAT placement and overlap, and the batmap header; the
        // rest (bitmaps against the batmap, locators) is checked here.
        let image = try VHDImage.open(store, readOnly: true)
        for p in image.openFindings.problems where !r.problems.contains(p) && !p.field.hasPrefix("footer") {
            r.problems.append(p)
        }
        guard let header = image.header else { return }
        r.merge(header.problems(file: file, offset: footer.dataOffset, diskType: footer.diskType))
        if image.endOfData > size - 512 {
            r.add(.corruption, file, image.endOfData, "bat", "blocks reach past the footer")
        }
        try checkBitmaps(image, header: header, &r)
        if footer.diskType == .differencing { checkLocators(store, header: header, image: image, &r) }
    }

    /// Every batmap bit set must match a full sector bitmap.
    private static func checkBitmaps(_ image: VHDImage, header: DynamicDiskHeader, _ r: inout CheckReport) throws {
        guard let map = image.batmap else { return }
        for b in 0..<image.bat.count where image.bat.isAllocated(b) && map.bits.test(b) {
            let bitmap = try image.bitmap(b)
            image.bitmaps[b] = nil
            if !bitmap.isFull {
                r.add(.corruption, image.name, UInt64(image.bat[b]) * VHDLimits.sectorBytes, "bitmap[\(b)]",
                      "the batmap marks block \(b) full but its bitmap is not")
            }
        }
    }

    /// Parent locators: fields in range, payload decodable, basename equal to the parent name.
    static func checkLocators(_ store: any BlockIO, header: DynamicDiskHeader, image: VHDImage, _ r: inout CheckReport) {
        var codes: Set<UInt32> = []
        for (i, l) in header.locators.enumerated() where !l.isEmpty {
            let at = image.footer.dataOffset + 576 + UInt64(24 * i)
            do {
                let path = try ParentLocator.readPath(l, store: store, entryOffset: at, index: i)
                if !codes.insert(l.platformCode).inserted {
                    r.add(.corruption, store.name, at, "locator[\(i)].platformCode", "duplicate platform code \(fourCCText(l.platformCode))")
                }
                if let path, PathText.basename(path) != PathText.basename(header.parentName.replacingAll("\\", with: "/")) {
                    r.add(.corruption, store.name, at, "locator[\(i)]", "path \(path) does not name the parent \(header.parentName)")
                }
            } catch let e as VHDError {
                r.add(e)
            } catch {
                r.add(.corruption, store.name, at, "locator[\(i)]", "unreadable: \(error)")
            }
        }
    }
}

extension ParentLocator {
    /// Reads and decodes a locator's path, distrusting every field. Nil for platform codes
    /// that hold no path we can use (Mac alias blobs); throws for damaged entries.
    static func readPath(_ l: ParentLocator, store: any BlockIO, entryOffset at: UInt64, index i: Int) throws -> String? {
        let file = store.name
        func bad(_ field: String, _ detail: String) -> VHDError {
            VHDError(.badLocator, file: file, offset: at, field: "locator[\(i)].\(field)", detail)
        }
        guard let space = l.spaceBytes else { throw bad("dataSpace", "\(l.dataSpace) is neither sectors nor whole sectors in bytes") }
        guard l.dataLength > 0, UInt64(l.dataLength) <= space, l.dataLength <= VHDLimits.locatorDataBytesMax else {
            throw bad("dataLength", "\(l.dataLength) does not fit the space of \(space) bytes")
        }
        guard l.dataOffset % VHDLimits.sectorBytes == 0, l.dataOffset >= VHDLimits.sectorBytes else {
            throw bad("dataOffset", "\(l.dataOffset) is not a sector offset")
        }
        let (end, overflow) = l.dataOffset.addingReportingOverflow(UInt64(l.dataLength))
        guard !overflow, end <= store.size else { throw bad("dataOffset", "the payload ends past the end of the file") }
        switch l.platformCode {
        case codeMacX, codeW2ku, codeW2ru, codeWi2k, codeWi2r: break
        case codeMac: return nil
        default: throw bad("platformCode", "unknown platform code \(fourCCText(l.platformCode))")
        }
        let data = try store.readBytes(count: Int(l.dataLength), at: l.dataOffset)
        guard let path = decodePath(data, code: l.platformCode) else {
            throw bad("data", "the payload is not a valid \(fourCCText(l.platformCode)) path")
        }
        return path
    }
}
