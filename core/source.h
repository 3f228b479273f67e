/*
 * core/source.h: a partition's bytes, cut into records. Reads [start, end) of a plain file with
 * pread; decodes a BGZF input's blocks; decodes a gzip input from its access points (whole
 * segments with libdeflate where the build has it, else zlib), checked against the index as it
 * goes; or takes a stream's partition from the ring, where the parent decoded it. Compressed
 * partitions do not start or end at records: a partition owns the records that start in
 * [start, end), as the plan's rule for plain files would cut them, so every record is read once.
 * One source per worker process (its decoders are made on first use and kept).
 */
#ifndef TRANCHE_SOURCE_H
#define TRANCHE_SOURCE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "framing.h"
#include "input.h"
#include "plan.h"

/* Where a partition's bytes come from. */
struct source_input {
    const struct input *input; /* the file, its kind and its index (borrowed) */
    char *mem;                 /* a stream's partition: its bytes in the ring; else NULL */
    int check_tail; /* indexed gzip: also check what was decoded past the partition (to end its
                     * last record) up to the next point, as no other partition will */
};

/* Called with each record, in order: data[0, len) (without the delimiter; writable, borrowed
 * until the call returns), and the input offset where it starts. Returns 0, or -1 to stop. */
typedef int (*source_record_fn)(void *arg, char *data, size_t len, uint64_t offset);

/* Called instead of failing for malformed bytes (a FASTQ read that is not one, an unclosed
 * quote), with the bytes up to where the next record starts and why; returns 0 to go on. */
typedef int (*source_bad_fn)(void *arg, const char *data, size_t len, uint64_t offset,
                             const char *why);

struct source;

int source_new(const struct framing *fr, struct source **out, struct error *err);
void source_free(struct source *s);

/* Leaves malformed records to `bad` (on_error: skip); NULL (the default) fails on them. */
void source_set_bad(struct source *s, source_bad_fn bad);

/* Makes source_read give up ("interrupted") once *stop is non-zero, checked between buffers.
 * `stop` is borrowed; NULL turns the check off. */
void source_set_stop(struct source *s, const volatile sig_atomic_t *stop);

/*
 * Reads partition p of `in` and calls fn(arg, ...) for each record it owns. Returns 0, or -1:
 * fn stopped it (err then only says "stopped by a step": fn's caller knows why), or reading or
 * checking failed (err names the file and offset).
 */
int source_read(struct source *s, const struct partition *p, const struct source_input *in,
                source_record_fn fn, void *arg, struct error *err);

#endif
