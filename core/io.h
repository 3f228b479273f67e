/* core/io.h: whole reads and writes, retried on EINTR and short counts: the one read loop and
 * the one write loop of the core (git's read_in_full / write_in_full). */
#ifndef TRANCHE_IO_H
#define TRANCHE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes all of data. Returns 0, or -1 with errno set. */
int io_write_all(int fd, const void *data, size_t len);

/* Reads len bytes from fd's offset (read), or up to the end of the file (or pipe). Returns how
 * many were read (less than len only at the end), or -1 with errno set. */
ssize_t io_read_full(int fd, void *buf, size_t len);

/* The same at offset off (pread); fd's offset is not moved. */
ssize_t io_pread_full(int fd, void *buf, size_t len, uint64_t off);

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
