/* libnfs (user-space NFSv3/v4 client), for the NFS SR driver. */
#include <sys/types.h>
#include <stdint.h>
#include <sys/timerfd.h>   /* the NFS store's tick (libnfs timeouts, retries) */
#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>   /* MOUNT EXPORT: the export list a probe shows */

/* timerfd flags are enum values aliased by macros; give Swift plain constants. */
static const int CNFS_TFD_NONBLOCK = TFD_NONBLOCK;
static const int CNFS_TFD_CLOEXEC = TFD_CLOEXEC;
