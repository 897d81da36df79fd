/* Shim over liburing: stable, importable names for its static inline helpers and macros.
 * Include order matters: glibc's features first (else module clashes on fd_set), then the
 * kernel's io_uring.h so liburing's bundled copy (same include guard) is skipped and
 * SystemPackage/CSystem see the same definitions. */
#ifndef CURING_SHIM_H
#define CURING_SHIM_H

#include <sys/types.h>
#include <linux/io_uring.h>
#include <liburing.h>
#include <sys/uio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <linux/fs.h>

static inline struct io_uring_sqe *cur_get_sqe(struct io_uring *r) { return io_uring_get_sqe(r); }
static inline unsigned cur_sq_ready(const struct io_uring *r) { return io_uring_sq_ready(r); }
static inline unsigned cur_sq_space_left(const struct io_uring *r) { return io_uring_sq_space_left(r); }
static inline unsigned cur_cq_ready(const struct io_uring *r) { return io_uring_cq_ready(r); }

static inline void cur_prep_nop(struct io_uring_sqe *s) { io_uring_prep_nop(s); }
static inline void cur_prep_read(struct io_uring_sqe *s, int fd, void *buf, unsigned n, __u64 off) { io_uring_prep_read(s, fd, buf, n, off); }
static inline void cur_prep_write(struct io_uring_sqe *s, int fd, const void *buf, unsigned n, __u64 off) { io_uring_prep_write(s, fd, buf, n, off); }
static inline void cur_prep_readv(struct io_uring_sqe *s, int fd, const struct iovec *v, unsigned n, __u64 off) { io_uring_prep_readv(s, fd, v, n, off); }
static inline void cur_prep_writev(struct io_uring_sqe *s, int fd, const struct iovec *v, unsigned n, __u64 off) { io_uring_prep_writev(s, fd, v, n, off); }
static inline void cur_prep_read_fixed(struct io_uring_sqe *s, int fd, void *buf, unsigned n, __u64 off, int idx) { io_uring_prep_read_fixed(s, fd, buf, n, off, idx); }
static inline void cur_prep_write_fixed(struct io_uring_sqe *s, int fd, const void *buf, unsigned n, __u64 off, int idx) { io_uring_prep_write_fixed(s, fd, buf, n, off, idx); }
static inline void cur_prep_fsync(struct io_uring_sqe *s, int fd, unsigned flags) { io_uring_prep_fsync(s, fd, flags); }
static inline void cur_prep_fallocate(struct io_uring_sqe *s, int fd, int mode, __u64 off, __u64 len) { io_uring_prep_fallocate(s, fd, mode, (off_t)off, (off_t)len); }
static inline void cur_prep_poll_add(struct io_uring_sqe *s, int fd, unsigned mask) { io_uring_prep_poll_add(s, fd, mask); }
static inline void cur_prep_poll_remove(struct io_uring_sqe *s, __u64 user_data) { io_uring_prep_poll_remove(s, user_data); }
static inline void cur_prep_recv(struct io_uring_sqe *s, int fd, void *buf, size_t n, int flags) { io_uring_prep_recv(s, fd, buf, n, flags); }
static inline void cur_prep_send(struct io_uring_sqe *s, int fd, const void *buf, size_t n, int flags) { io_uring_prep_send(s, fd, buf, n, flags); }
static inline void cur_sqe_set_data64(struct io_uring_sqe *s, __u64 d) { io_uring_sqe_set_data64(s, d); }
static inline void cur_sqe_set_flags(struct io_uring_sqe *s, unsigned f) { io_uring_sqe_set_flags(s, f); }
static inline void cur_sqe_set_rw_flags(struct io_uring_sqe *s, int f) { s->rw_flags = f; }

static inline int cur_wait_cqe(struct io_uring *r, struct io_uring_cqe **c) { return io_uring_wait_cqe(r, c); }
static inline int cur_peek_cqe(struct io_uring *r, struct io_uring_cqe **c) { return io_uring_peek_cqe(r, c); }
static inline void cur_cqe_seen(struct io_uring *r, struct io_uring_cqe *c) { io_uring_cqe_seen(r, c); }
static inline void cur_cq_advance(struct io_uring *r, unsigned n) { io_uring_cq_advance(r, n); }
static inline __u64 cur_cqe_get_data64(const struct io_uring_cqe *c) { return io_uring_cqe_get_data64(c); }
static inline unsigned cur_peek_batch_cqe(struct io_uring *r, struct io_uring_cqe **c, unsigned n) { return io_uring_peek_batch_cqe(r, c, n); }

/* Constants hidden behind macros or enums-of-macros that Swift cannot import. */
static const int CUR_O_DIRECT = __O_DIRECT;
static const unsigned CUR_IOSQE_FIXED_FILE = IOSQE_FIXED_FILE;
static const unsigned CUR_IORING_FSYNC_DATASYNC = IORING_FSYNC_DATASYNC;
static const int CUR_RWF_DSYNC = RWF_DSYNC;
static const int CUR_FALLOC_PUNCH_HOLE = 0x02 | 0x01; /* FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE */

/* Submit what is queued and wait for `wait_nr` completions, with an optional timeout in
 * nanoseconds (negative: no timeout). Returns 0 or -errno (-ETIME on timeout). */
int cur_submit_and_wait_timeout(struct io_uring *r, unsigned wait_nr, long long timeout_ns);

/* The direct-I/O alignment the kernel reports for an open file (statx STATX_DIOALIGN),
 * or 0 when it does not say. */
unsigned cur_dio_offset_alignment(int fd);
/* Logical sector size of a block device, or 0 when fd is not one. */
unsigned cur_block_device_sector_size(int fd);
/* Size in bytes of a block device, or -1 when fd is not one. */
long long cur_block_device_size(int fd);

/* GNU-only calls the Glibc overlay does not import (they need _GNU_SOURCE). */
int cur_fallocate(int fd, int mode, long long offset, long long length);
long cur_preadv2(int fd, const struct iovec *v, int n, long long offset, int flags);
long cur_pwritev2(int fd, const struct iovec *v, int n, long long offset, int flags);

#endif
