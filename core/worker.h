/*
 * core/worker.h: the body of a forked worker process. It calls its steps' init, says READY, and
 * runs the partitions it is ASSIGNed one at a time through its chain. A partition's output goes
 * straight into the job's output when the partition holds the turn (shared `head`); otherwise it
 * is kept in memory, continued in a part file on disk once it passes `spill_after` bytes
 * ("spilled"), and written when GRANT comes; a worker that waits for its GRANT longer than its
 * partition took (at least `park_after_ms`) moves the output into its part file ("parks" it),
 * says PARKED and takes more work, and the parent writes it when its turn comes. See protocol.h
 * for the messages. A worker never returns into the parent's code: it reports and _exit()s.
 */
#ifndef TRANCHE_WORKER_H
#define TRANCHE_WORKER_H

#include <signal.h>
#include <stdint.h>

#include "protocol.h"
#include "run.h"

/* A partition's output past this many bytes, while not its turn, goes on to a part file. */
#define WORKER_SPILL_AFTER (48u << 20)

/* A worker whose finished partition is not yet due waits this long (or as long as the partition
 * took, if longer) for its turn before it parks the output, so that a slow partition does not
 * hold the others. */
#define WORKER_PARK_AFTER_MS 100

/* The worker's pipes are moved to descriptors from here up. */
#define WORKER_FD_FLOOR 256

/* What a worker process is given by the scheduler that forks it. */
struct worker_env {
    struct run *run;     /* the parent's, as of fork: job, steps, inputs, output, planner */
    int id;              /* 1-based */
    int report_fd;       /* write end of its report pipe */
    int cmd_fd;          /* read end of its command pipe */
    const char *log_dir; /* where it opens its worker-N.log */
    const char *log_path;
    int log_fd;            /* set by worker_main once the log is open */
    struct shared *shared; /* head, and this worker's progress at progress[id - 1] */
    uint64_t spill_after;
    uint64_t park_after_ms;
    int hold_until_done; /* a partition's output waits until it has run to its end, even when
                          * its turn comes first (an output that cannot be rewound, when a failed
                          * partition may run again) */
    sigset_t mask;       /* the signal mask to run with */
};

/* Runs the worker; never returns. The caller (in the child, right after fork) has closed the
 * parent's log and the other workers' pipes and logs. */
void worker_main(const struct worker_env *env) __attribute__((noreturn));

#endif
