/* core/error.h: the error struct that carries a human message beside a negative return code. */
#ifndef TRANCHE_ERROR_H
#define TRANCHE_ERROR_H

#define ERROR_MSG_MAX 1024

struct error {
    char msg[ERROR_MSG_MAX];
};

/* Formats the message into err (if not NULL) and returns -1, so `return error_set(...)` works. */
int error_set(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like error_set, with ": strerror(errno)" appended; errno is read before anything else. */
int error_errno(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the message already in err. Returns -1. */
int error_prefix(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
