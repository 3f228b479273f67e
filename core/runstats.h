/*
 * core/runstats.h: what a run did, partition by partition and worker by worker: the numbers
 * behind the progress line on a terminal, the summary line on standard error at the end, and
 * LOG_DIR/summary.json (read back by `tranche report`).
 *
 * The scheduler (and the in-process mode) tell it what happens as it happens; it never blocks
 * and never fails the job: out of memory, it stops keeping per-partition detail and the summary
 * says it is incomplete. Times are CLOCK_MONOTONIC nanoseconds since runstats_init.
 *
 * Contract for the callers (P6): a partition may be started more than once (a retry, in a fresh
 * worker; attempt counts from 1); only the attempt that ends in runstats_partition_done counts
 * towards records and bytes. A partition kept from an earlier run (--resume) is reported once
 * with runstats_partition_resumed and never started.
 */
#ifndef TRANCHE_RUNSTATS_H
#define TRANCHE_RUNSTATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "chain.h"

struct run;

/* One partition, as the summary lists it. */
struct runstats_part {
    int worker;       /* 1-based id of the worker whose attempt counted; 0: not run (resumed) */
    int attempts;     /* how many times it was started */
    int resumed;      /* kept from an earlier run */
    uint64_t t_start; /* of the attempt that counted */
    uint64_t t_done;  /* run (its output may still wait for its turn) */
    uint64_t t_written;
    uint64_t bytes_in; /* the partition's input bytes (decompressed for gzip) */
    struct partition_stats stats;
    uint64_t skipped; /* records left out (on_error: skip) */
};

struct runstats {
    const struct run *run;
    int n_workers;
    uint64_t t0; /* monotonic ns at init */
    struct runstats_part *parts;
    size_t n_parts, cap_parts;
    int incomplete; /* out of memory on the way: per-partition detail is missing */
    uint64_t retries, skipped;
    uint64_t bytes_planned, bytes_done, parts_done;
    struct rusage *worker_usage; /* per worker, at its end (ru_maxrss: its peak RSS) */
    int progress;                /* a progress line is drawn on standard error */
    uint64_t progress_drawn;     /* when it was last drawn */
};

/* Starts the clock. `progress`: draw the progress line (stderr is a terminal, no --quiet). */
int runstats_init(struct runstats *rs, const struct run *r, int n_workers, int progress);
void runstats_release(struct runstats *rs);

/* The plan knows n_parts partitions so far (it grows while a stream is decoded), covering
 * `bytes` input bytes (decompressed; for a stream, what is decoded so far). */
void runstats_planned(struct runstats *rs, size_t n_parts, uint64_t bytes);

/* Partition k was handed to worker w (1-based), attempt `attempt` (1 for the first). */
void runstats_partition_started(struct runstats *rs, size_t k, int w, int attempt);

/* Partition k ran to its end in worker w; its stats are those of this attempt. */
void runstats_partition_done(struct runstats *rs, size_t k, int w, const struct partition_stats *st,
                             uint64_t skipped);

/* Partition k's output is in the job's output. */
void runstats_partition_written(struct runstats *rs, size_t k);

/* Partition k's attempt in worker w failed and will be run again; `why` is one line. */
void runstats_partition_retried(struct runstats *rs, size_t k, int w, const char *why);

/* Partition k was kept from an earlier run (--resume), with these stats. */
void runstats_partition_resumed(struct runstats *rs, size_t k, const struct partition_stats *st,
                                uint64_t skipped);

/* Worker w (1-based) ended; `ru` is what wait4() gave. */
void runstats_worker_ended(struct runstats *rs, int w, const struct rusage *ru);

/* Called from the scheduler's loop (at least every 250 ms while a progress line is drawn):
 * redraws the progress line when it is due. */
void runstats_tick(struct runstats *rs);

/* The poll timeout the scheduler should use so that runstats_tick is called in time (ms, -1 for
 * none needed). */
int runstats_tick_ms(const struct runstats *rs);

/* Clears the progress line. */
void runstats_clear(struct runstats *rs);

#endif
