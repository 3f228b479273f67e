/*
 * core/output.h: the job's output, its part directory and its commit. What the output path is
 * decides how it is written, before anything runs:
 *   - nothing yet, or a regular file: a temporary file beside it (O_EXCL, never another run's),
 *     renamed over it only when the whole job succeeded (atomic for readers; durable after a
 *     power loss only with output_set_fsync);
 *   - a symbolic link: followed to its target, which is then written as above (the link stays);
 *     a link that points nowhere, or that someone else could have planted (in a sticky directory
 *     writable by all, owned neither by this user nor by the directory's owner), is refused;
 *   - standard output ("-"), a character device or a FIFO: written in place, as the job goes (no
 *     rename is possible there: what was written before a failure stays);
 *   - a directory (or a path ending in "/", ".", ".."; an empty path), a socket or a block
 *     device: refused, ERR_INVALID.
 * The directories output_open makes for the output are removed again (if empty) when the job
 * fails. The workers write into the same open file in turn (see scheduler.h), so nothing is
 * merged at the end.
 */
#ifndef TRANCHE_OUTPUT_H
#define TRANCHE_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "parts.h"
#include "paths.h"

struct output {
    char *path;     /* the file written: the path given, a link's target, or "-" */
    char *tmp_path; /* renamed over path at commit; NULL when written in place */
    int fd;
    int broken_pipe;       /* the reader of standard output or of a FIFO went away (EPIPE) */
    int fsync;             /* output_set_fsync: sync before and after the rename */
    struct path_made made; /* directories made for the output: removed again on failure */
    struct parts parts;    /* the job's part directory, PARTS_NONE until output_parts_init */
};

/*
 * Checks the output path and opens it: the temporary file (making the output's directory first,
 * like mkdir -p), or the output itself when it is written in place (for a FIFO, this waits for
 * a reader, as a shell's `>` does). Returns 0; ERR_INVALID when the output is refused or cannot
 * be created; ERR_FAILED when a stop signal came while waiting for a FIFO's reader. On failure
 * nothing is left behind (not the directories it made) and *o needs no output_abort.
 */
int output_open(struct output *o, const char *path, struct error *err);

/* Makes output_commit durable (on = 1): the temporary file is synced before the rename, and the
 * directories whose entries changed after it (git's core.fsync, SQLite's unixSync); an output
 * written in place is synced where it can be (a regular file behind standard output). */
/* The checks of output_open that make nothing (for `tranche validate`): 0, or ERR_INVALID with
 * err saying why the output would be refused. */
int output_check(const char *path, struct error *err);

void output_set_fsync(struct output *o, int on);

/* Makes the job's part directory (parts.h): beside the output file (on the disk the output goes
 * to), or in $TMPDIR (default /tmp) for an output written in place. In the parent, before it
 * forks the workers, which inherit it with the output. */
int output_parts_init(struct output *o, struct error *err);

/* Appends len bytes to the output. Safe in a forked worker that inherited the output: the
 * descriptor's offset is shared, so appends from several processes must take turns. */
int output_write(struct output *o, const void *data, size_t len, struct error *err);

/* output_write with the signature of a bgzf_put_fn (bgzf_writer.h); `o` is the output. */
int output_put(void *o, const void *data, size_t len, struct error *err);

/* Appends all that the open file part_fd holds, read from its start (pread: part_fd's offset is
 * not used), to the output; part_path names it in messages. part_fd stays open. */
int output_append(struct output *o, int part_fd, const char *part_path, struct error *err);

/* Appends part file k of the output's part directory to the output, and removes it (for the
 * parent, which writes parked partitions). */
int output_append_part(struct output *o, size_t k, struct error *err);

/* Ends the output: the temporary file is closed and renamed over the output (synced first and
 * after, with output_set_fsync), or the output written in place is closed. The part directory
 * is removed. On failure the temporary file is removed too, and the directories made for it;
 * when only the sync after the rename failed, the output is in place and the message says so. */
int output_commit(struct output *o, struct error *err);

/* Closes the output; removes the temporary file, the part directory and the directories made
 * for the output (each if empty): nothing appears at the output path. Safe to repeat, and
 * after output_open or output_commit failed. Never in a worker. */
void output_abort(struct output *o);

#endif
