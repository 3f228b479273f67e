/*
 * core/input.h: the job's inputs, opened and classified once, in the parent, before anything
 * runs: plain files (split by probing for delimiters), BGZF (split at its blocks), other gzip
 * with a current access-point index (split at its points), and other gzip without one (a
 * "stream": decoded by the parent as the job runs, see stream.h). Workers inherit the indexes;
 * an input is opened again by whoever reads it (input_open), so that the descriptors a job holds
 * do not grow with its inputs.
 */
#ifndef TRANCHE_INPUT_H
#define TRANCHE_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "bgzf.h"
#include "config.h"
#include "error.h"
#include "gzindex.h"
#include "plan.h"

enum input_kind { INPUT_PLAIN = 0, INPUT_BGZF, INPUT_GZINDEX, INPUT_STREAM };

struct input {
    const char *path; /* borrowed from the job; "standard input" for "-" */
    struct stat st;   /* as classified: input_open() and inputs_check_unchanged() compare with it */
    enum input_kind kind;
    struct bgzf_index bgzf; /* INPUT_BGZF: its blocks */
    struct gz_index gzi;    /* INPUT_GZINDEX: its access points */

    /* Standard input ("-"): read through a descriptor kept on it (input_open duplicates it; it
     * has no path to open again), never indexed, never checked for changes. A regular file
     * behind it is read as that file; anything else (a pipe) is a stream read once, in order:
     * `sequential`, its first head_len bytes (read to tell gzip from plain) kept in head. */
    int is_stdin;
    int stdin_fd;
    int sequential;
    int gzip; /* a sequential input is gzip (else plain bytes) */
    unsigned char head[2];
    size_t head_len;
};

struct inputs {
    struct input *v;
    size_t n;
    size_t n_streams;       /* inputs of kind INPUT_STREAM */
    uint64_t index_spacing; /* a stream leaves an index with points this far apart */
};

/*
 * Opens and classifies every input of the job. Every input is stat'ed before any is opened, and
 * only regular files are opened (a FIFO or a device is never opened: that could block or act on
 * it). Returns 0; ERR_INVALID when the job's input list has a problem (job->input_problem: a
 * glob that matches nothing), when an input cannot be opened, is not a regular file, is the
 * job's output, is listed twice (the same device and inode; unless job->allow_duplicates), or
 * has a size that does not say what it holds (a /proc, /sys or similar file; a file whose size
 * is 0 but that has content); ERR_FAILED when a compressed input is corrupt (err names the file
 * and the compressed offset); ERR_INVALID too when out of memory. Release with inputs_release()
 * in any case.
 */
int inputs_open(const struct job *job, struct inputs *in, struct error *err);

/*
 * input.header: true (csv): reads the first row of every input into job->framing.header_row,
 * and checks that they are all the same (an empty file has none). Returns 0; ERR_INVALID when
 * they differ or an input is a pipe (the header is needed before the job starts); ERR_FAILED
 * when one cannot be read, or its first row is malformed.
 */
int inputs_read_header(struct job *job, const struct inputs *in, struct error *err);

/* Appends the partitions of every input but the streams to plan (empty on entry). Returns 0,
 * or ERR_INVALID with err naming the input (a read error while probing), or saying which
 * partition_size would do when the plan would pass PLAN_MAX_PARTITIONS. */
int inputs_plan(const struct job *job, const struct inputs *in, struct plan *plan,
                struct error *err);

/*
 * Opens input `in` for reading (read-only, close-on-exec) and checks that it is the file
 * inputs_open() classified: the same device and inode, size, mtime and ctime. Returns the
 * descriptor, or -1 with err naming the input and what changed.
 */
int input_open(const struct input *in, struct error *err);

/*
 * Checks that no input changed since inputs_open(): the file its path names has the same device
 * and inode, size, mtime and ctime (to the nanosecond) as then. An
 * input rewritten in place while partitions were read (logrotate's copytruncate, an append, a
 * `cp` over it) could have given mixed or cut records. Returns 0, or ERR_FAILED with err
 * naming the first changed input and what changed ("input PATH changed during the job: size
 * 100 -> 50, mtime ... -> ..."). Reads only metadata; call it in the parent after the last
 * partition is written and before the output is committed.
 */
int inputs_check_unchanged(const struct inputs *in, struct error *err);

/* The name standard input goes by in messages. */
#define INPUT_STDIN_NAME "standard input"

/* Whether input i is compressed (its partitions' offsets are decompressed bytes). */
int input_is_compressed(const struct input *in);

/* Closes the inputs and frees their indexes; safe on a zeroed struct, and leaves it zeroed. */
void inputs_release(struct inputs *in);

/* How an input is read, for summaries: plain, bgzf, gzip-indexed, gzip-stream or stdin
 * (standard input, whatever is behind it). */
const char *input_kind_name(const struct input *in);

#endif
