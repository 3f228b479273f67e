/*
 * core/protocol.h: what the scheduler (the parent) and its worker processes say to each other,
 * and the memory they share.
 *
 * Each worker has a report pipe (worker -> parent) and a command pipe (parent -> worker). A
 * worker says READY after its steps' init, then is given one partition at a time (ASSIGN) and
 * answers with fixed-size reports, smaller than PIPE_BUF so that each write is atomic: DONE (run,
 * output held, not its turn yet), WRITTEN (its output is in the job's output), PARKED (its output
 * is in its part file on disk, for the parent to write), FAILED (with the message). GRANT tells a
 * worker whose partition is DONE that its turn has come; STOP ends it. Before an ASSIGN, SKIPs
 * may name records of that partition to leave out without running them (they killed a worker);
 * PROBE runs one record of a partition alone, its output dropped, to learn whether that record
 * kills a worker by itself: the worker says PROBED when it did not. The parent learns of a
 * death from EOF on the report pipe and waitpid(), never by waiting forever; a worker never runs
 * the parent's error paths, it reports and _exit()s.
 *
 * Shared memory holds `head`, the partition whose turn it is to be written (a worker running it
 * writes straight to the output), and per worker where it is (partition, step, record), so that
 * the parent can say where a worker that died of a signal was.
 */
#ifndef TRANCHE_PROTOCOL_H
#define TRANCHE_PROTOCOL_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "chain.h"
#include "plan.h"

enum report_kind {
    REPORT_READY = 1,
    REPORT_DONE = 2,
    REPORT_WRITTEN = 3,
    REPORT_FAILED = 4,
    REPORT_PARKED = 5,
    REPORT_PROBED = 6
};

enum command_kind { CMD_ASSIGN = 1, CMD_GRANT = 2, CMD_STOP = 3, CMD_SKIP = 4, CMD_PROBE = 5 };

struct command {
    uint32_t kind;
    int32_t step; /* SKIP: the step the record killed the worker in (-1: not known) */
    uint64_t partition;
    struct partition part; /* ASSIGN, PROBE: the partition (the worker's copy of the plan is old) */
    uint64_t offset;       /* SKIP, PROBE: the record's input offset */
    char reason[512];      /* SKIP: why, one line */
};

struct report {
    uint32_t kind;
    int32_t step;        /* FAILED: the step, or -1 for I/O */
    uint64_t partition;  /* UINT64_MAX when failing in init */
    int32_t broken_pipe; /* FAILED: standard output's reader went away */
    int32_t spilled;     /* DONE/WRITTEN: part of the output went through a part file on disk */
    int32_t in_fini;     /* FAILED: in a step's fini, after STOP (partition is UINT64_MAX) */
    struct partition_stats stats;
    char msg[2048];
};

_Static_assert(sizeof(struct report) < PIPE_BUF, "a report must be written atomically");

/* Memory shared by the parent and every worker (MAP_SHARED, made before fork). */
struct shared {
    uint64_t head; /* the partition whose output is written now; all before it are written */
    struct chain_progress progress[];
};

#endif
