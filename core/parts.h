/*
 * core/parts.h: the job's part directory, where a partition's output waits on disk for its turn
 * (worker.h: "spilled" and "parked" partitions), one part file per partition, part-NNNNNN.
 *
 * The directory is made fresh for each job with mkdtemp (mode 0700, a name no one can predict
 * or make first) by the parent before it forks the workers, who inherit its open descriptor. A
 * part file is created once (O_CREAT|O_EXCL|O_NOFOLLOW) and opened again (O_NOFOLLOW) relative
 * to that descriptor, never through a path someone could have replaced: a directory or a link
 * planted under a name tranche once used is never used, followed or removed, and two jobs never
 * share a part file, whatever their process ids.
 */
#ifndef TRANCHE_PARTS_H
#define TRANCHE_PARTS_H

#include <stddef.h>

#include "error.h"

struct parts {
    char *dir;  /* the directory's path (for messages and its removal), NULL when none */
    int dir_fd; /* its descriptor, -1 when none */
};

/* The zeroed state: no directory. parts_release is a no-op on it. */
#define PARTS_NONE ((struct parts){NULL, -1})

/* Makes a fresh part directory in the directory `where`. On failure *p is PARTS_NONE and nothing
 * is left behind. */
int parts_init(struct parts *p, const char *where, struct error *err);

/* Creates part file k, which must not exist, open for reading and writing; *fd_out is set only
 * on success. Safe in a forked worker. */
int parts_create(const struct parts *p, size_t k, int *fd_out, struct error *err);

/* Opens part file k for reading and removes its name: what it holds stays readable through
 * *fd_out (set only on success), which the caller closes. For the parent, which writes parked
 * partitions. */
int parts_take(const struct parts *p, size_t k, int *fd_out, struct error *err);

/* Removes the name of part file k (its data goes when the last descriptor on it is closed). */
int parts_remove(const struct parts *p, size_t k, struct error *err);

/* DIR/part-NNNNNN, part file k's path, for messages. */
void parts_path(const struct parts *p, size_t k, char *buf, size_t size);

/* Removes every part file and the directory, closes it, and sets *p to PARTS_NONE. Only the
 * process that made the directory calls it (never a worker). Safe on PARTS_NONE, and to
 * repeat. */
void parts_release(struct parts *p);

#endif
