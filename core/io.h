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

#endif
