/* core/io.h: whole reads and writes, retried on EINTR and short counts. */
#ifndef TRANCHE_IO_H
#define TRANCHE_IO_H

#include <stddef.h>
#include <stdint.h>

/* Writes all of data. Returns 0, or -1 with errno set. */
int io_write_all(int fd, const void *data, size_t len);

/* Reads exactly len bytes at offset off (pread). Returns 0, 1 when the file ends first, or -1
 * with errno set. */
int io_pread_all(int fd, void *buf, size_t len, uint64_t off);

/* Little-endian fields, as gzip, BGZF and the index file store them. */
static inline void
io_put_le(unsigned char *p, uint64_t v, unsigned bytes)
{
    unsigned i;

    for (i = 0; i < bytes; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static inline uint64_t
io_get_le(const unsigned char *p, unsigned bytes)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < bytes; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

#endif
