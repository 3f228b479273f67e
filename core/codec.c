/* core/codec.c: the CRC-32 and the name of the deflate library the build uses (libdeflate's
 * where TRANCHE_HAVE_LIBDEFLATE, else zlib's). */
#include "codec.h"

#include <stdio.h>
#include <zlib.h>

#ifdef TRANCHE_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

uint32_t
codec_crc32(uint32_t crc, const void *data, size_t len)
{
    if (len == 0) {
        return crc; /* (both libraries return their initial value 0 for a NULL buffer) */
    }
#ifdef TRANCHE_HAVE_LIBDEFLATE
    return libdeflate_crc32(crc, data, len);
#else
    /* zlib takes a uInt length: feed it at most 1 GiB at a time. */
    const unsigned char *p = data;
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
#endif
}

const char *
codec_name(void)
{
    static char name[64];

#ifdef TRANCHE_HAVE_LIBDEFLATE
    snprintf(name, sizeof(name), "libdeflate %s", LIBDEFLATE_VERSION_STRING);
#else
    snprintf(name, sizeof(name), "zlib %s", zlibVersion());
#endif
    return name;
}
