import Glibc
import StorageIO

/// A `DiskImage` seen as a BlockIO, so anything that drives a store (sm-bench's jobs,
/// export, copy) can drive a VDI's chain in process.
///
/// Reads resolve the range from the image's in-memory maps and issue the host extents
/// asynchronously on the layers' stores, all in parallel; zero runs are filled without I/O.
/// Overwrites of data the top layer already holds go straight to the top store, for formats
/// that keep a sector at one place once written (raw, VHD). Allocating writes and flushes go
/// through the image's synchronous API, which runs the loop until done.
public final class DiskImageStore: BlockIO {
    public let image: any DiskImage
    public let loop: EventLoop
    public let capabilities: BlockIOCapabilities
    public private(set) var isClosed = false
    /// Closes the image in its owner's way (which may also release a lock and record
    /// usage); without it, `close()` closes the image itself.
    public var closeImage: (() -> Void)?
    private let stores: [any BlockIO]
    private let rewritesInPlace: Bool
    /// Child requests for host extents, reused; `tag` indexes the parent in `parents`.
    private var spareChildren: [IORequest] = []
    private var parents: [Parent?] = []
    private var freeParentSlots: [Int] = []

    private struct Parent {
        let request: IORequest
        var pending: Int
        var failure: BlockIOError?
    }

    public init(image: any DiskImage) {
        precondition(!image.layerStores.isEmpty, "an image without a store")
        self.image = image
        self.stores = image.layerStores
        self.loop = stores[0].loop
        let alignment = max(512, stores.map { $0.capabilities.alignment }.max()!)
        let transfer = stores.map { $0.capabilities.transferBytesMax }.min()!
        capabilities = BlockIOCapabilities(alignment: alignment, transferBytesMax: transfer, canTrim: false,
                                           canFUA: false, isReadOnly: image.isReadOnly)
        rewritesInPlace = image.rewritesDataInPlace
    }

    public var name: String { image.name }
    public var size: UInt64 { image.virtualSize }

    public func submit(_ request: IORequest) {
        request.begin()
        if let failure = validate(request) {
            loop.post(request, result: -failure.errno, failure: failure)
            return
        }
        do {
            switch request.operation {
            case .read: try startRead(request)
            case .write: try startWrite(request)
            case .flush:
                try image.flush()
                loop.post(request, result: 0, failure: nil)
            case .discard:
                loop.post(request, result: -EOPNOTSUPP, failure: .unsupported(store: name, what: "discard"))
            }
        } catch {
            let failure = error as? BlockIOError
                ?? .io(store: name, operation: request.operation, offset: request.offset,
                       length: UInt64(request.length), errno: EIO)
            loop.post(request, result: -failure.errno, failure: failure)
        }
    }

    private func startRead(_ request: IORequest) throws {
        let extents = try image.resolve(at: VirtualOffset(request.offset), length: UInt64(request.length))
        let slot = claimParent(request)
        for extent in extents {
            let start = Int(extent.virtualOffset.bytes - request.offset)
            let target = request.buffer! + start
            switch extent.source {
            case .zero:
                target.initializeMemory(as: UInt8.self, repeating: 0, count: Int(extent.length))
            case let .host(layer, host):
                issueChild(.read, slot: slot, store: stores[layer], buffer: target, length: Int(extent.length),
                           offset: host.bytes)
            }
        }
        settle(slot)
    }

    private func startWrite(_ request: IORequest) throws {
        let offset = VirtualOffset(request.offset)
        let extents = rewritesInPlace ? try image.resolve(at: offset, length: UInt64(request.length)) : []
        let overwrite = !extents.isEmpty && extents.allSatisfy {
            if case .host(0, _) = $0.source { return true }
            return false
        }
        guard overwrite else {
            try image.write(UnsafeRawBufferPointer(start: request.buffer, count: request.length), at: offset)
            loop.post(request, result: Int32(request.length), failure: nil)
            return
        }
        let slot = claimParent(request)
        for extent in extents {
            guard case let .host(_, host) = extent.source else { continue }
            let start = Int(extent.virtualOffset.bytes - request.offset)
            issueChild(.write, slot: slot, store: stores[0], buffer: request.buffer! + start,
                       length: Int(extent.length), offset: host.bytes)
        }
        settle(slot)
    }

    // MARK: Parent and child bookkeeping

    private func claimParent(_ request: IORequest) -> Int {
        // One extra count held until every child is issued, so a parent never completes early.
        let parent = Parent(request: request, pending: 1, failure: nil)
        if let slot = freeParentSlots.popLast() {
            parents[slot] = parent
            return slot
        }
        parents.append(parent)
        return parents.count - 1
    }

    private func issueChild(_ operation: IOOperation, slot: Int, store: any BlockIO, buffer: UnsafeMutableRawPointer,
                            length: Int, offset: UInt64) {
        let child = spareChildren.popLast() ?? makeChild()
        child.operation = operation
        child.buffer = buffer
        child.length = length
        child.offset = offset
        child.tag = slot
        parents[slot]!.pending += 1
        store.submit(child)
    }

    private func makeChild() -> IORequest {
        let child = IORequest()
        child.onComplete = { [unowned self] in self.childCompleted($0) }
        return child
    }

    private func childCompleted(_ child: IORequest) {
        let slot = child.tag
        if let failure = child.failure, parents[slot]!.failure == nil { parents[slot]!.failure = failure }
        spareChildren.append(child)
        parents[slot]!.pending -= 1
        if parents[slot]!.pending == 0 { finishParent(slot) }
    }

    /// Drops the issuing count; a parent with nothing in flight completes on the next turn.
    private func settle(_ slot: Int) {
        parents[slot]!.pending -= 1
        guard parents[slot]!.pending == 0 else { return }
        let parent = parents[slot]!
        release(slot)
        loop.post(parent.request, result: Int32(parent.request.length), failure: nil)
    }

    private func finishParent(_ slot: Int) {
        let parent = parents[slot]!
        release(slot)
        let request = parent.request
        if let failure = parent.failure {
            request.finish(result: -failure.errno, failure: failure)
        } else {
            request.finish(result: Int32(request.length), failure: nil)
        }
    }

    private func release(_ slot: Int) {
        parents[slot] = nil
        freeParentSlots.append(slot)
    }

    public func resize(to newSize: UInt64) throws {
        throw BlockIOError.unsupported(store: name, what: "resizing an image through its store view")
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        if let closeImage { closeImage() } else { try? image.close() }
    }
}

extension DiskImage {
    /// Whether a sector, once written, stays at one host place for good, so rewriting it
    /// there changes no metadata (raw and VHD; not formats with compressed or shared clusters).
    public var rewritesDataInPlace: Bool {
        switch self {
        case is RawImage, is VHDImage: return true
        case let chain as ImageChain: return chain.layers.first.map { $0 is RawImage || $0 is VHDImage } ?? false
        default: return false
        }
    }
}
