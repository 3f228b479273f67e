/*
 * core/stream.h: a gzip file that cannot be split ahead (one member, or members of unknown size,
 * with no index yet), or standard input that is not a file (a pipe, gzip or not), is read once,
 * by the parent, into a ring of shared memory, and cut into partitions at record boundaries as it
 * is decoded. Workers run those partitions straight from the
 * ring (it is mapped twice in a row, so a partition that wraps is still contiguous), while the
 * parent decodes the next ones. The decoder records access points as it goes and leaves an index
 * (gzindex.h), so that the next run over the same file decodes in parallel.
 */
#ifndef TRANCHE_STREAM_H
#define TRANCHE_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "error.h"
#include "framing.h"
#include "plan.h"

#define STREAM_RING_SIZE (32u << 20)

struct stream;

/* Maps the ring (shared: make it before fork) of `size` bytes, a multiple of the page size. */
int stream_new(size_t size, struct stream **out, struct error *err);
void stream_free(struct stream *s);

/* Where partition p (with p->ring_at set) lies in memory. */
char *stream_data(const struct stream *s, const struct partition *p);

/* What a stream is read from. */
struct stream_source {
    size_t file;      /* the input's index in the job */
    int fd;           /* open on it; the caller closes it after STREAM_END */
    const char *path; /* for messages */
    const struct stat *st;
    int gzip;       /* decode it (else its bytes are the records: standard input, plain) */
    int sequential; /* read in order with read() (a pipe), its size unknown until its end */
    const unsigned char *head; /* sequential: bytes read from fd already, which come first */
    size_t head_len;
};

/*
 * Starts reading input src (decoding it when src->gzip), cutting partitions of at least `target`
 * bytes that end after a record (framing_boundary). index_spacing > 0 (gzip only): also write an index with
 * access points that far apart, into the cache or with index_beside beside the file (failing to
 * write one is not an error; stream_index_note says why).
 */
int stream_start(struct stream *s, const struct stream_source *src, uint64_t target,
                 const struct framing *fr, uint64_t index_spacing, int index_beside,
                 struct error *err);

enum stream_status {
    STREAM_MORE, /* decoded its budget; call again */
    STREAM_FULL, /* the ring is full: release some before calling again */
    STREAM_END   /* the file is decoded, checked, its last partition appended, its index written */
};

/*
 * Decodes up to about `budget` more bytes and appends the partitions it completes to plan;
 * *status says where decoding stands. Returns 0, or -1 with err naming the file and compressed
 * offset, or a record too long for the ring.
 */
int stream_step(struct stream *s, struct plan *plan, size_t budget, enum stream_status *status,
                struct error *err);

/* Frees the ring up to ring position `upto` (the end of a partition no worker still reads). */
void stream_release(struct stream *s, uint64_t upto);

/* How far into its file (compressed bytes) decoding is, for the progress line; 0 when the file
 * is not being decoded as gzip. */
uint64_t stream_in_offset(const struct stream *s);

/* After STREAM_END: what happened to the index ("written to PATH", or why not); "" if none. */
const char *stream_index_note(const struct stream *s);

#endif
