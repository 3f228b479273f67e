/* core/log.c: timestamped, untorn log lines and the log directory. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

int
log_open(const char *dir, const char *name, int *fd_out, struct error *err)
{
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) {
        return error_errno(err, "cannot open log file %s", path);
    }
    *fd_out = fd;
    return 0;
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
