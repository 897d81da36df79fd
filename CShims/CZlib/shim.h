/* zlib: deflateInit2/inflateInit2 are macros; call deflateInit2_/inflateInit2_ from Swift. */
#include <sys/types.h>
#include <zlib.h>
