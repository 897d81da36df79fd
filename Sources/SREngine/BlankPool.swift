import ImageFormats
import StorageIO

/// The SR's pool of blanks (`VHDBlank`): preformatted images that make the new images of
/// snapshot and clone cost the same for every virtual size.
///
/// Blanks are taken under the SR lock by renaming one to the temporary name of the image
/// being built; the pool is refilled off the critical path by the background worker
/// (`sm-gc`), kicked after a snapshot or clone that used it. When it is empty, images are
/// built the ordinary way. A blank references nothing, so losing one to a crash is harmless:
/// a half-formatted `.blank.partial` is swept by recovery like any other temporary.
extension AttachedSR {
    /// The blanks ready in the SR.
    public func blankNames() throws -> [String] {
        try repository.volumeNames().filter(VolumeName.isBlank)
    }

    /// Gives back the unused BAT reserve of every blank-born image (see
    /// `VHDBlank.releaseUnusedTable`); the background worker runs it after refilling.
    /// Returns how many images have theirs given back (punched now or before).
    @discardableResult
    public func releaseBlankTables() throws -> Int {
        try withSRLock {
            var released = 0
            for name in try repository.volumeNames() where VolumeName.vdi(of: name) != nil {
                let store = try repository.openVolume(name, readOnly: false, on: loop)
                defer { store.close() }
                if (try? VHDBlank.releaseUnusedTable(of: store)) == true { released += 1 }
            }
            return released
        }
    }

    /// Formats blanks until the pool holds `options.blankPoolTarget`; returns how many it
    /// made. Stops early, without an error, when space is short: blanks are an optimisation.
    @discardableResult
    public func refillBlanks() throws -> Int {
        var made = 0
        while try withSRLock({ try blankNames().count }) < options.blankPoolTarget {
            guard try withSRLock({ try formatBlank() }) else { break }
            made += 1
        }
        return made
    }

    /// One new blank, under the SR lock (so recovery never sweeps one being formatted).
    private func formatBlank() throws -> Bool {
        guard try repository.freeSpace().freeBytes >= VHDBlank.fileBytes + SRLimits.spaceSlackBytes else { return false }
        let id = UUIDText.random()
        let store = try repository.createVolume(VolumeName.partialBlank(id), on: loop)
        do {
            try VHDBlank.format(on: store)
            store.close()
        } catch {
            store.close()
            try? repository.removeVolume(VolumeName.partialBlank(id))
            throw error
        }
        try repository.renameVolume(VolumeName.partialBlank(id), to: VolumeName.blank(id))
        try repository.syncNamespace()
        return true
    }

    /// Makes `volume` the empty image `footer` describes from a blank (call under the SR
    /// lock). False when the pool is empty or the blank did not fit; then nothing changed
    /// except that a misfit blank is gone.
    func buildFromBlank(_ volume: String, footer: Footer, parent: VHDCreate.ParentLink?) throws -> Bool {
        guard options.blankPoolTarget > 0, let blank = try blankNames().first else { return false }
        try repository.renameVolume(blank, to: volume)
        let store = try repository.openVolume(volume, readOnly: false, on: loop)
        defer { store.close() }
        do {
            try VHDBlank.personalize(store, footer: footer, parent: parent)
            return true
        } catch is VHDError {
            try repository.removeVolume(volume)
            return false
        }
    }

    /// After an operation that used blanks: refill in the background when a worker is
    /// configured, else leave it to the next `refillBlanks`.
    func kickBlankRefill() {
        guard options.blankPoolTarget > 0, options.gcKick == .background,
              (try? blankNames().count) ?? 0 < options.blankPoolTarget else { return }
        startBackgroundWorker(blanksOnly: true)
    }
}
