/* core/error.c: filling struct error. */
#include "error.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
error_set(struct error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int
error_errno(struct error *err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    size_t n;

    if (err == NULL) {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(saved));
    return -1;
}

int
error_prefix(struct error *err, const char *fmt, ...)
{
    char old[ERROR_MSG_MAX];
    va_list ap;
    size_t n;

    if (err == NULL) {
        return -1;
    }
    memcpy(old, err->msg, sizeof(old));
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    if (n + 2 < sizeof(err->msg)) {
        memcpy(err->msg + n, ": ", 3);
        n += 2;
        strncat(err->msg + n, old, sizeof(err->msg) - n - 1);
    }
    return -1;
}

int
error_exit_status(int result)
{
    switch (result) {
    case RESULT_OK:
        return 0;
    case RESULT_SKIPPED:
        return 3;
    case ERR_INVALID:
        return 2;
    case ERR_PIPE:
        return 128 + SIGPIPE; /* what a shell reports for a command killed by SIGPIPE */
    case ERR_TIMEOUT:
        return 124; /* what timeout(1) exits with */
    default:
        return 1;
    }
}
