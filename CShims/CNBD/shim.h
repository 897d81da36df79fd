/* libnbd: the NBD client sm-bench uses to drive any NBD server (ours, qemu-nbd, nbdkit). */
#include <sys/types.h>
#include <stdint.h>
#include <libnbd.h>
