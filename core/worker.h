/*
 * core/worker.h: the step chain inside one worker: reads a partition's byte range with pread,
 * splits it into records, calls each step (a step's emit calls the next step directly), and
 * writes what the last step emits, each record followed by the delimiter, to the partition's
 * output. Also implements the host function table plugins receive. Used by forked workers and,
 * unchanged, by the in-process mode.
 */
#ifndef TRANCHE_WORKER_H
#define TRANCHE_WORKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "partition.h"
#include "plugin.h"

/*
 * Where a worker is, kept in memory shared with the parent so that when a worker dies of a
 * signal the parent can still say which partition, step and record it was in.
 */
struct worker_progress {
    volatile int64_t partition;     /* -1 when between partitions */
    volatile int32_t step;          /* index of the step running now, -1 for none */
    volatile uint64_t record_start; /* input byte offset of the record being processed */
};

/* What one partition did, for the logs and the parent. */
struct partition_stats {
    uint64_t records_in;
    uint64_t records_out;
    uint64_t bytes_out;   /* all output bytes, delimiters included */
    uint64_t bytes_first; /* of which written to the output's fd (the rest is in the spill file) */
    uint64_t nanos;
    int spilled;          /* the output went past spill_after: the rest is in spill_path */
};

/*
 * Where a partition's output goes: `fd` from its current offset, named `name` in messages. When
 * spill_after > 0 and the output would pass that many bytes, the rest goes to a new file at
 * spill_path instead (so an in-memory part file stays bounded).
 */
struct chain_output {
    int fd;
    const char *name;
    uint64_t spill_after;
    const char *spill_path;
};

struct chain;

/*
 * Calls init() of every step, in order (after fork, in a worker). `steps` is borrowed and must
 * outlive the chain; `log_fd` receives plugin log lines (may be -1); `progress` may be NULL.
 * On failure *failed_step is the index of the step whose init failed.
 */
int chain_new(const struct step *steps, size_t n_steps, unsigned char delimiter, int worker_id,
              int log_fd, struct worker_progress *progress, struct chain **out, int *failed_step,
              struct error *err);

/*
 * Runs one partition: reads [p->start, p->end) of in_fd, feeds every record through the steps,
 * calls end_partition() of each step, and writes the output as `out` says. On failure returns
 * -1, err holds the message (a plugin's, or the I/O error), and *failed_step is the step's index
 * or -1 when the failure was reading or writing.
 */
int chain_run(struct chain *c, const struct partition *p, int in_fd, const char *in_path,
              const struct chain_output *out, struct partition_stats *stats, int *failed_step,
              struct error *err);

/* Makes chain_run give up (as a failure, "interrupted") once *stop is non-zero; it is checked
 * between read buffers. `stop` is borrowed; NULL turns the check off. */
void chain_set_stop(struct chain *c, const volatile sig_atomic_t *stop);

/* Calls fini() of every step whose init() succeeded, then frees the chain. NULL is a no-op. */
void chain_free(struct chain *c);

#endif
