/* libaio: io_setup/io_submit/io_getevents and the io_prep_* inline helpers. */
#include <sys/types.h>
#include <libaio.h>
