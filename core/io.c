/* core/io.c: whole reads and writes. */
#include "io.h"

#include <errno.h>
#include <unistd.h>

int
io_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The read loop: pread from *off when off is not NULL (fd's offset is not moved), else read. */
static ssize_t
read_loop(int fd, char *p, size_t len, uint64_t *off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = off != NULL ? pread(fd, p + got, len - got, (off_t)(*off + got))
                                : read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

ssize_t
io_read_full(int fd, void *buf, size_t len)
{
    return read_loop(fd, buf, len, NULL);
}

ssize_t
io_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    return read_loop(fd, buf, len, &off);
}
