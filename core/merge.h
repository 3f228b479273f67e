/*
 * core/merge.h: the ordered merge. Part files are appended to a temporary file beside the output
 * as soon as every earlier part is in, removed once copied, and the temporary file is renamed over
 * the output only when the whole job succeeded. Standard output ("-") is written directly.
 */
#ifndef TRANCHE_MERGE_H
#define TRANCHE_MERGE_H

#include <stdint.h>

#include "error.h"

struct merge {
    char *output;   /* the final path, or "-" */
    char *tmp_path; /* NULL for standard output */
    int fd;
    uint64_t bytes;
    int broken_pipe; /* standard output's reader went away (EPIPE) */
};

/* Creates the temporary file (or takes standard output). On failure nothing is left behind. */
int merge_open(struct merge *m, const char *output, struct error *err);

/* Appends the first len bytes of the open file fd (from offset 0; its file offset is left as
 * it is) to the output. `name` describes fd in messages. */
int merge_append_fd(struct merge *m, int fd, uint64_t len, const char *name, struct error *err);

/* Appends the whole of part_path to the output, then removes part_path. */
int merge_append(struct merge *m, const char *part_path, struct error *err);

/* Closes the temporary file and renames it over the output. On failure it is removed. */
int merge_commit(struct merge *m, struct error *err);

/* Closes and removes the temporary file; nothing appears at the output path. Safe to repeat. */
void merge_abort(struct merge *m);

/* The directory part of a path ("." when it has none); malloc'd. */
char *merge_dirname(const char *path);

#endif
