import Glibc

/// The parts of a local-file BlockIO every engine shares: validation, size, resize, close.
/// Engines subclass it and implement `start`, which moves a validated request.
public class LocalFileStore: BlockIO, RequestExecutor {
    public let loop: EventLoop
    public let engine: IOEngine
    let file: OpenedFile
    public let capabilities: BlockIOCapabilities
    public private(set) var size: UInt64
    public private(set) var isClosed = false
    public var name: String { file.path }
    /// Whether the file was opened with O_DIRECT (false where the filesystem refused it).
    public var isDirect: Bool { file.isDirect }

    init(file: OpenedFile, loop: EventLoop, engine: IOEngine) {
        self.file = file
        self.loop = loop
        self.engine = engine
        self.capabilities = file.capabilities()
        self.size = file.size
    }

    deinit {
        if !isClosed { Glibc.close(file.fd) }
    }

    public final func submit(_ request: IORequest) {
        request.begin(executor: self)
        if let failure = validate(request) {
            loop.post(request, result: -failure.errno, failure: failure)
        } else if request.length == 0 && request.operation != .flush {
            loop.post(request, result: 0, failure: nil)
        } else {
            start(request)
        }
    }

    /// Moves a validated request; the engine completes it later on the loop.
    func start(_ request: IORequest) {
        preconditionFailure("LocalFileStore engines must override start")
    }

    /// Ring completions go to the engine that submitted them.
    func ringCompleted(_ request: IORequest, result: Int32) {
        preconditionFailure("\(engine) engine got a ring completion")
    }

    /// What is left of a read or write after a short transfer.
    final func remaining(_ request: IORequest) -> (buffer: UnsafeMutableRawPointer, length: Int, offset: UInt64) {
        (request.buffer! + request.transferred, request.length - request.transferred,
         request.offset + UInt64(request.transferred))
    }

    /// Accounts a partial or whole transfer: true when the request is done. A zero-byte
    /// transfer is an error (the file shrank under us), never an endless resubmission.
    final func advance(_ request: IORequest, by result: Int32) -> Bool {
        guard request.operation == .read || request.operation == .write else { return true }
        request.transferred += Int(result)
        return request.transferred >= request.length
    }

    public func resize(to newSize: UInt64) throws {
        guard !isClosed else { throw BlockIOError.closed(store: name, operation: .write) }
        if newSize != size && file.isDirect && newSize % UInt64(capabilities.alignment) != 0 {
            throw BlockIOError.unaligned(store: name, operation: .write, field: "new size",
                                         value: newSize, alignment: capabilities.alignment)
        }
        try file.resize(to: newSize)
        size = newSize
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        closeEngine()
        Glibc.close(file.fd)
    }

    /// Engines release their own resources here.
    func closeEngine() {}
}
