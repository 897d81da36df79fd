/* libiscsi (user-space initiator), for the iSCSI SR driver. */
#include <sys/types.h>
#include <stdint.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
