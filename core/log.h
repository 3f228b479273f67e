/*
 * core/log.h: the job's log files: LOG_DIR/tranche.log for the parent and LOG_DIR/worker-N.log
 * for each worker. Each line starts with a UTC timestamp and is written with one write(2) on an
 * O_APPEND descriptor, so lines never tear, even beside a plugin's own stderr on the same file.
 */
#ifndef TRANCHE_LOG_H
#define TRANCHE_LOG_H

#include <stdarg.h>

#include "error.h"

/* Opens (truncating) DIR/NAME for appending; *fd_out is set only on success. DIR/NAME must be a
 * regular file with no other link, or not exist: a symbolic link, FIFO or device there is
 * refused, never followed or written. When DIR is the default log directory (or below the
 * default base, $TMPDIR/tranche-logs-UID), the directories on the way are checked first
 * (path_check_default_log_dir). Returns 0 or ERR_INVALID. */
int log_open(const char *dir, const char *name, int *fd_out, struct error *err);

/* log_open without truncating: what is there stays (a fresh worker in the place of one that
 * failed goes on with its log). */
int log_open_more(const char *dir, const char *name, int *fd_out, struct error *err);

/* Writes one timestamped line to fd; a write error is ignored (a log must not fail a job). */
void log_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vline(int fd, const char *prefix, const char *fmt, va_list ap);

#endif
