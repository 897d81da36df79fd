#define _GNU_SOURCE
#include "CURing.h"
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

int cur_submit_and_wait_timeout(struct io_uring *r, unsigned wait_nr, long long timeout_ns) {
    if (timeout_ns < 0) {
        int rc = io_uring_submit_and_wait(r, wait_nr);
        return rc < 0 ? rc : 0;
    }
    struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL };
    struct io_uring_cqe *cqe = NULL;
    int rc = io_uring_submit_and_wait_timeout(r, &cqe, wait_nr, &ts, NULL);
    return rc < 0 ? rc : 0;
}

unsigned cur_dio_offset_alignment(int fd) {
#ifdef STATX_DIOALIGN
    struct statx stx;
    memset(&stx, 0, sizeof stx);
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN))
        return stx.stx_dio_offset_align > stx.stx_dio_mem_align ? stx.stx_dio_offset_align : stx.stx_dio_mem_align;
#endif
    return 0;
}

unsigned cur_block_device_sector_size(int fd) {
    int sz = 0;
    if (ioctl(fd, BLKSSZGET, &sz) != 0) return 0;
    return (unsigned)sz;
}

long long cur_block_device_size(int fd) {
    unsigned long long bytes = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) return -1;
    return (long long)bytes;
}

int cur_fallocate(int fd, int mode, long long offset, long long length) {
    return fallocate(fd, mode, (off_t)offset, (off_t)length);
}

long cur_preadv2(int fd, const struct iovec *v, int n, long long offset, int flags) {
    return preadv2(fd, v, n, (off_t)offset, flags);
}

long cur_pwritev2(int fd, const struct iovec *v, int n, long long offset, int flags) {
    return pwritev2(fd, v, n, (off_t)offset, flags);
}
