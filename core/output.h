/*
 * core/output.h: the job's output and its commit. The output is written to a temporary file
 * beside the output path (O_EXCL, never another run's), in partition order, and renamed over the
 * output only when the whole job succeeded; standard output ("-") is written directly. The
 * workers write into the same open file in turn (see scheduler.h), so nothing is merged at the
 * end.
 */
#ifndef TRANCHE_OUTPUT_H
#define TRANCHE_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct output {
    char *path;     /* the final path, or "-" */
    char *tmp_path; /* NULL for standard output */
    int fd;
    int broken_pipe; /* standard output's reader went away (EPIPE) */
};

/* Creates the temporary file (or takes standard output). On failure nothing is left behind. */
int output_open(struct output *o, const char *path, struct error *err);

/* Appends len bytes to the output. Safe in a forked worker that inherited the output: the
 * descriptor's offset is shared, so appends from several processes must take turns. */
int output_write(struct output *o, const void *data, size_t len, struct error *err);

/* output_write with the signature of a bgzf_put_fn (bgzf_writer.h); `o` is the output. */
int output_put(void *o, const void *data, size_t len, struct error *err);

/* Appends the whole of the part file at part_path to the output, then removes the file. */
int output_append(struct output *o, const char *part_path, struct error *err);

/* Closes the temporary file and renames it over the output. On failure it is removed. */
int output_commit(struct output *o, struct error *err);

/* Closes and removes the temporary file; nothing appears at the output path. Safe to repeat. */
void output_abort(struct output *o);

#endif
