/*
 * core/plan.h: the partition plan. Each input file is cut into contiguous byte ranges
 * [start, end) of about the target size, each ending just after a delimiter or at end of file, so
 * every record belongs to exactly one partition. Computed once, in the parent, before the run;
 * a stream's partitions are cut as it is decoded (stream.h, planner.h).
 */
#ifndef TRANCHE_PLAN_H
#define TRANCHE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "framing.h"

struct partition {
    size_t index; /* in output order: file order, then offset order (in a shard's run: within
                   * the shard) */
    /* The partition's number in the whole job (record_info's partition; the one that writes the
     * header row is 0): index, or in a shard's run index + the shard's first (shards.h). */
    size_t number;
    size_t file; /* index into the plan's inputs */
    uint64_t start;
    uint64_t end; /* exclusive; end > start always */
    /* A BGZF input: the blocks [first_block, end_block) hold [start, end) of the decompressed
     * stream, which is not cut at records: the partition owns the records that start in it. */
    size_t first_block;
    size_t end_block;
    /* A gzip input read through its index: first_block and end_block are access points, and the
     * partition owns the records that start in [start, end) likewise. A gzip input decoded by
     * the parent as it runs: the partition's bytes are in the ring at ring position ring_at. */
    uint64_t ring_at;
};

struct plan {
    struct partition *parts;
    size_t n_parts;
    size_t cap;
    size_t number_base; /* plan_push numbers partitions from this (0 but in a shard's run) */
};

/*
 * The most partitions the plan_add_ functions put in one plan (all the job's planned inputs
 * together). Each partition costs the parent memory (its entry here and in the live plan) and
 * the scheduler tens of microseconds, so a tiny partition_size over a large input would take
 * seconds and gigabytes for nothing; at the default 32 MiB this is over 3 TiB of input.
 */
#define PLAN_MAX_PARTITIONS 100000

/* Whether plan holds PLAN_MAX_PARTITIONS partitions (a plan_add_ function failed for that). */
int plan_is_full(const struct plan *plan);

/*
 * Appends the partitions of one open file (size bytes, read with pread on fd) to plan, with
 * file index `file`. An empty file adds none. Probing reads forward from each target offset to
 * the next record boundary (framing_boundary): for lines of one byte it never reads a byte twice;
 * for CSV it reads the whole file once, for the quote parity at each target (a count of quote
 * bytes, the cheapest exact rule: a guess checked later would cost the scheduler a replan).
 * Returns 0, or -1 with err naming `path` on a
 * read error or when the plan would pass PLAN_MAX_PARTITIONS (plan_is_full() then; the
 * partitions added so far stay).
 */
int plan_add_file(struct plan *plan, size_t file, const char *path, int fd, uint64_t size,
                  uint64_t target, const struct framing *fr, struct error *err);

struct bgzf_index;

/*
 * Appends the partitions of a BGZF file: runs of whole blocks of about `target` decompressed
 * bytes. Records are not aligned to blocks; a worker finds its records' boundaries as it
 * decodes (a partition owns the records that start in [start, end)). Returns 0 or -1 (out of
 * memory, or past PLAN_MAX_PARTITIONS).
 */
int plan_add_bgzf(struct plan *plan, size_t file, const char *path, const struct bgzf_index *idx,
                  uint64_t target, struct error *err);

struct gz_index;

/*
 * Appends the partitions of a gzip file read through its access-point index: runs of points
 * about `target` decompressed bytes long; the last partition runs to the end of the file, so that
 * its worker checks the last member and that nothing follows it. Returns 0 or -1 (as
 * plan_add_bgzf).
 */
int plan_add_gzindex(struct plan *plan, size_t file, const char *path, const struct gz_index *idx,
                     uint64_t target, struct error *err);

/* Appends one partition [start, end) of `file`, numbered in order; NULL when out of memory. Not
 * bounded by PLAN_MAX_PARTITIONS (a stream's live plan grows with it). */
struct partition *plan_push(struct plan *plan, size_t file, uint64_t start, uint64_t end);

/* Frees the plan's array; safe on a zeroed plan, and leaves it zeroed. */
void plan_release(struct plan *plan);

#endif
