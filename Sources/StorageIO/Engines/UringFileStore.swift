import CURing
import Glibc

/// A local file on the loop's io_uring: each request is one SQE (fixed-buffer reads and
/// writes when the buffer lies in a registered region), submitted with the loop's batch.
final class UringFileStore: LocalFileStore {
    init(file: OpenedFile, loop: EventLoop) {
        precondition(loop.driver == .uring, "UringFileStore needs an io_uring loop")
        super.init(file: file, loop: loop, engine: .uring)
    }

    override func start(_ request: IORequest) {
        let sqe = loop.nextSQE()
        switch request.operation {
        case .read, .write:
            let (buffer, length, offset) = remaining(request)
            let isRead = request.operation == .read
            if let index = loop.fixedBufferIndex(buffer, length: length) {
                if isRead {
                    cur_prep_read_fixed(sqe, file.fd, buffer, UInt32(length), offset, index)
                } else {
                    cur_prep_write_fixed(sqe, file.fd, buffer, UInt32(length), offset, index)
                }
            } else if isRead {
                cur_prep_read(sqe, file.fd, buffer, UInt32(length), offset)
            } else {
                cur_prep_write(sqe, file.fd, buffer, UInt32(length), offset)
            }
            if request.fua && !isRead { cur_sqe_set_rw_flags(sqe, CUR_RWF_DSYNC) }
        case .flush:
            cur_prep_fsync(sqe, file.fd, CUR_IORING_FSYNC_DATASYNC)
        case .discard:
            cur_prep_fallocate(sqe, file.fd, CUR_FALLOC_PUNCH_HOLE, request.offset, UInt64(request.length))
        }
        loop.attach(request, to: sqe)
    }

    override func ringCompleted(_ request: IORequest, result: Int32) {
        if result == -EAGAIN || result == -EINTR {
            start(request)
        } else if result < 0 {
            request.finish(result: result, failure: file.failure(request, errno: -result))
        } else if result == 0 && request.operation != .flush && request.operation != .discard {
            request.finish(result: -EIO, failure: file.failure(request, errno: EIO))
        } else if advance(request, by: result) {
            request.finish(result: Int32(request.length), failure: nil)
        } else {
            start(request) // short transfer: move the rest
        }
    }
}
