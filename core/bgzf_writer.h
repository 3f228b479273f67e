/*
 * core/bgzf_writer.h: a partition's output on its way to the job's output or to a part file: as
 * it is (plain output), or compressed into whole BGZF blocks (gzip output), so that wherever a
 * partition's output is written it is a run of whole blocks and the job's output is their
 * concatenation, ended once with the empty end-of-file block. Compressed output that is not yet
 * due can be held in memory: compressing as the partition runs keeps the workers compressing in
 * parallel, not each in its turn. One writer per worker process (made after fork).
 */
#ifndef TRANCHE_BGZF_WRITER_H
#define TRANCHE_BGZF_WRITER_H

#include <stddef.h>

#include "error.h"

/* Where written bytes go: the output (output_put), a part file, or the writer's hold buffer. */
typedef int (*bgzf_put_fn)(void *arg, const void *data, size_t len, struct error *err);

struct bgzf_encoder;

struct bgzf_writer {
    struct bgzf_encoder *enc; /* NULL: plain output */
    unsigned char *buf;       /* compressed blocks not yet handed on */
    size_t len;
    unsigned char *hold; /* compressed output held while it is not the partition's turn */
    size_t hold_len;
    size_t hold_cap;
};

/* gzip_level 1-9: BGZF at that level; 0: plain. Safe to release after a failure. */
int bgzf_writer_init(struct bgzf_writer *w, int gzip_level, struct error *err);
void bgzf_writer_release(struct bgzf_writer *w);

/*
 * Hands data on to put(arg, ...). Plain output goes as it is, all of it. Compressed output goes
 * as whole blocks of BGZF_MAX_INPUT input bytes, the rest too when `last`; *taken says how much
 * of data was used (the caller keeps the rest and offers it again, grown, later).
 */
int bgzf_writer_put(struct bgzf_writer *w, bgzf_put_fn put, void *arg, const char *data, size_t len,
                    int last, size_t *taken, struct error *err);

/* A bgzf_put_fn that appends to the hold buffer of the writer `w`. */
int bgzf_writer_hold(void *w, const void *data, size_t len, struct error *err);

#endif
