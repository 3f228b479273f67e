/* core/log.c: timestamped, untorn log lines and the log directory. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "paths.h"

#define LOG_LINE_MAX 4096

/* Only a file of this job's own may become a log: not a link (O_NOFOLLOW), a FIFO or a device
 * (opened without blocking, then refused), nor a file with other names (a hard link to
 * someone's file); it is truncated only once it passed. */
static int
open_own(const char *path, int truncate, int *fd_out, struct error *err)
{
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
    struct stat st;
    int fd = open(path, flags | O_CLOEXEC, 0666);

    if (fd < 0 && errno == ELOOP) {
        return error_set(err,
                         "cannot open log file %s: it is a symbolic link, which tranche "
                         "does not follow",
                         path);
    }
    if (fd < 0) {
        return error_errno(err, "cannot open log file %s", path);
    }
    if (fstat(fd, &st) != 0) {
        error_errno(err, "cannot open log file %s", path);
    } else if (!S_ISREG(st.st_mode) || st.st_nlink > 1) {
        error_set(err, "cannot open log file %s: it is not a regular file of its own (%s)", path,
                  S_ISREG(st.st_mode) ? "it has other hard links" : "a FIFO, device or socket");
    } else if ((truncate && ftruncate(fd, 0) != 0) || fcntl(fd, F_SETFL, O_APPEND) != 0) {
        error_errno(err, "cannot truncate log file %s", path);
    } else {
        *fd_out = fd;
        return 0;
    }
    close(fd);
    return -1;
}

/* log_open, and without truncating it. */
static int
open_log(const char *dir, const char *name, int truncate, int *fd_out, struct error *err)
{
    char path[4096];
    int rc = path_check_default_log_dir(dir, err);

    if (rc != 0) {
        return rc;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        return error_set(err, "log file path too long: %s/%s", dir, name);
    }
    return open_own(path, truncate, fd_out, err) == 0 ? 0 : ERR_INVALID;
}

int
log_open(const char *dir, const char *name, int *fd_out, struct error *err)
{
    return open_log(dir, name, 1, fd_out, err);
}

int
log_open_more(const char *dir, const char *name, int *fd_out, struct error *err)
{
    return open_log(dir, name, 0, fd_out, err);
}

void
log_vline(int fd, const char *prefix, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int k;

    if (fd < 0) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s", ts.tv_nsec / 1000000,
                 prefix != NULL ? prefix : "");
    n += k > 0 ? (size_t)k : 0;
    if (n < sizeof(line)) {
        k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        n += k > 0 ? (size_t)k : 0;
    }
    if (n >= sizeof(line) - 1) {
        n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    while (write(fd, line, n) < 0 && errno == EINTR) {
    }
}

void
log_line(int fd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vline(fd, NULL, fmt, ap);
    va_end(ap);
}
