import ImageFormats

/// The result of checking an SR end to end: records against images, every image's
/// structure, every chain's links. Tests assert it after crashes and concurrency.
public struct SRVerifyReport: Sendable, CustomStringConvertible {
    public var problems: [String] = []
    public var imagesChecked = 0
    public var chainsChecked = 0
    public var isConsistent: Bool { problems.isEmpty }

    public var description: String {
        isConsistent ? "consistent: \(imagesChecked) image(s), \(chainsChecked) chain(s) check clean"
            : problems.joined(separator: "\n")
    }
}

extension AttachedSR {
    public func verify() throws -> SRVerifyReport {
        try withSRLock {
            var report = SRVerifyReport()
            let meta = try metadata()
            let names = try repository.volumeNames()
            let images = Set(names.compactMap(VolumeName.vdi(of:)))
            for name in names where VolumeName.temporaryOwner(name) != nil { report.problems.append("temporary \(name) left") }
            for (name, _) in try repository.journals() { report.problems.append("journal \(name) pending") }
            for uuid in meta.vdis.keys.sorted() where !images.contains(uuid) {
                report.problems.append("record \(uuid) has no image")
            }
            for uuid in images.sorted() {
                guard let record = meta.vdis[uuid] else {
                    report.problems.append("image \(uuid).vhd has no record")
                    continue
                }
                report.problems += checkImage(uuid, record: record)
                report.imagesChecked += 1
            }
            for (uuid, _) in meta.vdis where images.contains(uuid) && meta.children(of: uuid).isEmpty {
                do {
                    let chain = try repository.openChain(VolumeName.image(uuid), readOnly: true, on: loop)
                    if chain.depth != meta.chainDepth(of: uuid) {
                        report.problems.append("chain of \(uuid): \(chain.depth) images, the records say \(meta.chainDepth(of: uuid))")
                    }
                    try chain.close()
                    report.chainsChecked += 1
                } catch {
                    report.problems.append("chain of \(uuid) does not open: \(error)")
                }
            }
            return report
        }
    }

    private func checkImage(_ uuid: String, record: VDIRecord) -> [String] {
        var problems: [String] = []
        do {
            let info = try imageInfo(VolumeName.image(uuid))
            if info.parent != record.parent { problems.append("\(uuid): image parent \(info.parent ?? "none"), record \(record.parent ?? "none")") }
            if info.hidden != record.hidden { problems.append("\(uuid): image hidden \(info.hidden), record \(record.hidden)") }
            if info.virtualSize != record.virtualSize { problems.append("\(uuid): image size \(info.virtualSize), record \(record.virtualSize)") }
            let store = try repository.openVolume(VolumeName.image(uuid), readOnly: true, on: loop)
            defer { store.close() }
            let check = try VHDImage.open(store, readOnly: true).check()
            if !check.isClean { problems.append("\(uuid): \(check)") }
        } catch {
            problems.append("\(uuid): \(error)")
        }
        return problems
    }
}
