/*
 * core/runstats.h: what a run did, partition by partition and worker by worker: the numbers
 * behind the progress line on a terminal, the summary line on standard error at the end, and
 * LOG_DIR/summary.json (read back by `tranche report`).
 *
 * The scheduler (and the in-process mode) tell it what happens as it happens; it never blocks
 * and never fails the job: out of memory, it stops keeping per-partition detail and the summary
 * says it is incomplete. Times are CLOCK_MONOTONIC nanoseconds since runstats_init. Nothing here
 * is per record: each hook is called once per partition (or per worker), runstats_tick a few
 * times a second.
 *
 * Contract for the callers (P6): a partition may be started more than once (a retry, in a fresh
 * worker; attempt counts from 1); only the attempt that ends in runstats_partition_done counts
 * towards records and bytes. A partition kept from an earlier run (--resume) is reported once
 * with runstats_partition_resumed and never started. A worker slot w may be used by several
 * processes in turn; each one's end is reported with runstats_worker_ended. In this process (the
 * in-process modes) the worker id given is 0: it is counted as worker 1, this process.
 *
 * Parent only; a forked worker never calls it.
 */
#ifndef TRANCHE_RUNSTATS_H
#define TRANCHE_RUNSTATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include "chain.h"

struct run;

/* One partition, as the summary lists it. */
struct runstats_part {
    int worker;       /* 1-based id of the worker it last ran in; 0: never ran (or resumed) */
    int attempts;     /* how many times it was started */
    int resumed;      /* kept from an earlier run */
    int done;         /* an attempt ran to its end (or it was resumed) */
    int written;      /* its output is in the job's output */
    uint64_t t_start; /* of the last attempt; 0 with attempts == 0 */
    uint64_t t_done;  /* run (its output may still wait for its turn) */
    uint64_t t_written;
    uint64_t records_in, records_out, bytes_in, bytes_out;
    uint64_t skipped; /* records left out (on_error: skip) */
};

/* One worker slot, over the processes that held it in turn. */
struct runstats_worker {
    uint64_t processes;  /* processes that ended in this slot */
    uint64_t partitions; /* partitions done in it */
    uint64_t busy_ns;    /* time its partitions' attempts took, failed ones included */
    struct timeval utime, stime;
    long max_rss_kib;
};

/* A failed attempt that was run again. */
struct runstats_retry {
    size_t partition;
    int attempt; /* the attempt that failed */
    int worker;
    uint64_t at; /* ns */
    char *reason;
};

struct runstats {
    const struct run *run;
    int n_workers;
    int in_process;    /* the partitions run in this process (worker 0 counted as 1) */
    uint64_t t0;       /* monotonic ns at init */
    time_t started_at; /* wall clock at init */
    struct runstats_part *parts;
    size_t n_parts, cap_parts;       /* parts[0, n_parts) valid (zeroed when nothing is known) */
    struct runstats_worker *workers; /* n_workers of them; NULL when out of memory */
    struct runstats_retry *retry_log;
    size_t n_retry_log, cap_retry_log;
    int incomplete; /* out of memory on the way: some detail is missing */
    uint64_t retries, skipped;
    uint64_t records_in, records_out, bytes_in, bytes_out;
    struct step_stats steps[CHAIN_STATS_STEPS];
    uint64_t parts_planned, bytes_planned; /* what the plan knows so far */
    uint64_t bytes_done, parts_done, parts_written, parts_resumed;
    int progress;            /* a progress line is drawn on standard error */
    int progress_shown;      /* one is on the screen now */
    uint64_t progress_drawn; /* when it was last drawn */
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

/* Partition k's attempt in worker w failed and will be run again; `why` is one line (copied). */
void runstats_partition_retried(struct runstats *rs, size_t k, int w, const char *why);

/* Partition k was kept from an earlier run (--resume), with these stats. */
void runstats_partition_resumed(struct runstats *rs, size_t k, const struct partition_stats *st,
                                uint64_t skipped);

/* Worker w (1-based) ended; `ru` is what wait4() gave. */
void runstats_worker_ended(struct runstats *rs, int w, const struct rusage *ru);

/* Called from the scheduler's loop (at least every 250 ms while a progress line is drawn):
 * redraws the progress line when it is due. Cheap when it is not (one clock read). */
void runstats_tick(struct runstats *rs);

/* The poll timeout the scheduler should use so that runstats_tick is called in time (ms, -1 for
 * none needed). */
int runstats_tick_ms(const struct runstats *rs);

/* Clears the progress line (if one is shown; it is drawn again at the next tick). */
void runstats_clear(struct runstats *rs);

/*
 * The run is over with `result` (a result code, or RESULT_SKIPPED) and, when it failed,
 * `error_msg`: clears the progress line, writes LOG_DIR/summary.json (LOG_DIR/replay-summary.json
 * for --replay, which must not replace its run's) and the copy run_options.summary_json asks for,
 * each atomically (a temporary file beside it, renamed), and prints the one-line summary on
 * stderr when run_options.summary_line asks for it and the job succeeded. Returns 0, or -1 when a
 * file could not be written (said on stderr and in the log); the job's result stays what it is.
 */
int runstats_finish(struct runstats *rs, int result, const char *error_msg);

/* 1234567 as "1,234,567", in buf (of `size` bytes, 32 is enough); returns buf. */
const char *runstats_grouped(uint64_t v, char *buf, size_t size);

#endif
