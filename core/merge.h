/*
 * core/merge.h: the output of a job. It is written to a temporary file beside the output, in
 * partition order, and renamed over the output only when the whole job succeeded; standard output
 * ("-") is written directly.
 */
#ifndef TRANCHE_MERGE_H
#define TRANCHE_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct merge {
    char *output;   /* the final path, or "-" */
    char *tmp_path; /* NULL for standard output */
    int fd;
    int broken_pipe; /* standard output's reader went away (EPIPE) */
};

/* Creates the temporary file (or takes standard output). On failure nothing is left behind. */
int merge_open(struct merge *m, const char *output, struct error *err);

/* Appends len bytes to the output. Safe in a forked worker that inherited the merge: the output
 * descriptor's offset is shared, so appends from several processes must take turns. */
int merge_write(struct merge *m, const void *data, size_t len, struct error *err);

/* Appends the whole of part_path to the output, then removes part_path. */
int merge_append(struct merge *m, const char *part_path, struct error *err);

/* Closes the temporary file and renames it over the output. On failure it is removed. */
int merge_commit(struct merge *m, struct error *err);

/* Closes and removes the temporary file; nothing appears at the output path. Safe to repeat. */
void merge_abort(struct merge *m);

/* The directory part of a path ("." when it has none); malloc'd. */
char *merge_dirname(const char *path);

#endif
