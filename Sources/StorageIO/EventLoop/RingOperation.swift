/// Anything the event loop's ring completes: a BlockIO request, an fd watch.
///
/// A submission carries the object's address as the CQE's user data, retained until the
/// completion arrives; a class hierarchy (rather than a protocol) keeps that one pointer wide.
public class RingOperation {
    init() {}

    /// Called on the loop thread with the CQE's result (a count, or a negative errno).
    func ringCompleted(result: Int32, flags: UInt32) {
        preconditionFailure("RingOperation subclasses must override ringCompleted")
    }
}
