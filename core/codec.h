/* core/codec.h: the deflate library the build uses, as the rest of the core sees it: its CRC-32
 * and its name. libdeflate's where the build found it (several times faster), else zlib's. */
#ifndef TRANCHE_CODEC_H
#define TRANCHE_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (gzip's) of data, continuing from crc (0 to start); data may be NULL when len is 0. */
uint32_t codec_crc32(uint32_t crc, const void *data, size_t len);

/* "libdeflate 1.14" or "zlib 1.2.13": what compresses, for --version. The string is static:
 * valid until the next call. */
const char *codec_name(void);

#endif
