/* libnfs (user-space NFSv3/v4 client), for the NFS SR driver. */
#include <sys/types.h>
#include <stdint.h>
#include <nfsc/libnfs.h>
