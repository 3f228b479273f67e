/*
 * core/error.h: the core's one result convention. A function returns 0 on success, or a negative
 * result code on failure, with the human message beside it in a struct error, filled once where
 * the failure happens. Most failures are ERR_FAILED (-1, what error_set returns); the codes below
 * say what a failure means to the user, and error_exit_status maps them to exit statuses in one
 * place (main.c applies it; summary.json reports it).
 */
#ifndef TRANCHE_ERROR_H
#define TRANCHE_ERROR_H

#define ERROR_MSG_MAX 1024

enum result {
    RESULT_OK = 0,
    RESULT_SKIPPED = 1, /* the job succeeded, leaving out records (on_error: skip); exit status 3 */
    ERR_FAILED = -1,    /* the job (or the command) ran and failed; exit status 1 */
    ERR_INVALID = -2,   /* usage, job file, plugin or input error: nothing was run; exit status 2 */
    ERR_PIPE = -3,      /* standard output's reader went away; stopped quietly, exit status 141 */
    ERR_TIMEOUT = -4    /* the job failed: a partition or record ran past its timeout; 124 */
};

struct error {
    char msg[ERROR_MSG_MAX];
};

/* Formats the message into err (if not NULL) and returns ERR_FAILED (-1), so that
 * `return error_set(...)` works. */
int error_set(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like error_set, with ": strerror(errno)" appended; errno is read before anything else. */
int error_errno(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the message already in err. Returns -1. */
int error_prefix(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit status of a command whose result is `result`. */
int error_exit_status(int result);

#endif
