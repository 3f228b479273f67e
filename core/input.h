/*
 * core/input.h: the job's inputs, opened and classified once, in the parent, before anything
 * runs: plain files (split by probing for delimiters), BGZF (split at its blocks), other gzip
 * with a current access-point index (split at its points), and other gzip without one (a
 * "stream": decoded by the parent as the job runs, see stream.h). Workers inherit the open
 * descriptors and the indexes.
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
    const char *path; /* borrowed from the job */
    int fd;           /* read-only, close-on-exec; -1 when not open */
    struct stat st;
    enum input_kind kind;
    struct bgzf_index bgzf; /* INPUT_BGZF: its blocks */
    struct gz_index gzi;    /* INPUT_GZINDEX: its access points */
};

struct inputs {
    struct input *v;
    size_t n;
    size_t n_streams;       /* inputs of kind INPUT_STREAM */
    uint64_t index_spacing; /* a stream leaves an index with points this far apart */
};

/*
 * Opens and classifies every input of the job. Returns 0; ERR_INVALID when an input cannot be
 * opened, is not a regular file, or is the job's output; ERR_FAILED when a compressed input is
 * corrupt (err names the file and the compressed offset); ERR_INVALID too when out of memory.
 * Release with inputs_release() in any case.
 */
int inputs_open(const struct job *job, struct inputs *in, struct error *err);

/* Appends the partitions of every input but the streams to plan (empty on entry). Returns 0,
 * or ERR_INVALID with err naming the input (a read error while probing). */
int inputs_plan(const struct job *job, const struct inputs *in, struct plan *plan,
                struct error *err);

/* Whether input i is compressed (its partitions' offsets are decompressed bytes). */
int input_is_compressed(const struct input *in);

/* Closes the inputs and frees their indexes; safe on a zeroed struct, and leaves it zeroed. */
void inputs_release(struct inputs *in);

#endif
