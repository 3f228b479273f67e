/*
 * core/turns.h: whose turn it is to write the output. Partitions are written in order; `head` is
 * the first partition not yet written. Each partition moves WAITING -> RUNNING (given to a
 * worker) -> DONE (run, its output held by its worker, not yet due) or PARKED (its output moved
 * to a part file on disk, for the parent to write) -> WRITTEN. A worker may also write its
 * partition while it runs, once the partition becomes the head (RUNNING -> WRITTEN).
 *
 * This is the scheduler's bookkeeping alone, without processes or files, so that it can be
 * tested step by step: the scheduler tells it what the workers reported and does what it says
 * (hand out a partition, send GRANT, write a parked part file, wait).
 */
#ifndef TRANCHE_TURNS_H
#define TRANCHE_TURNS_H

#include <stddef.h>

#include "error.h"

enum part_state { PART_WAITING = 0, PART_RUNNING, PART_DONE, PART_PARKED, PART_WRITTEN };

struct turns {
    unsigned char *state; /* enum part_state, per partition */
    int *owner;           /* per partition: the worker it was given to, or -1 */
    size_t cap;           /* partitions tracked (grown with the plan) */
    size_t head;          /* the partition whose output is written now */
    size_t next;          /* the next partition to hand out */
    size_t parked;        /* partitions PARKED now */
    size_t park_limit;    /* no more work is handed out while this many are parked */
    size_t parked_total;  /* partitions that were ever parked */
    size_t *again;        /* partitions to run again (turns_again), handed out before `next` */
    size_t n_again, cap_again;
};

/* Starts with no partition; park_limit > 0. */
void turns_init(struct turns *t, size_t park_limit);
void turns_release(struct turns *t);

/* Starts at partition k: the partitions before it are written already (a resumed run). Call
 * before any work is handed out. */
void turns_start_at(struct turns *t, size_t k);

/* Tracks partitions [0, n) (the plan grows as streams are decoded). */
int turns_track(struct turns *t, size_t n, struct error *err);

enum turn_work {
    TURN_WORK, /* run partition *k */
    TURN_IDLE, /* nothing now: too many parked, or the plan is still growing */
    TURN_STOP  /* every partition has been handed out */
};

/* What a free worker should do, `known` partitions being planned (all of them when all_known).
 * On TURN_WORK, partition *k is RUNNING and owned by `worker`. */
enum turn_work turns_work(struct turns *t, size_t known, int all_known, int worker, size_t *k);

/* Partition k (RUNNING or DONE: not written, not parked) failed and is to be run again: it is
 * WAITING, and handed out before any partition not yet run, whatever is parked (the head may be
 * waiting for it). Returns 0, or -1 when out of memory. */
int turns_again(struct turns *t, size_t k, struct error *err);

/* Partition k is DONE. Returns 1 when it is the head: its worker may write it now (GRANT). */
int turns_done(struct turns *t, size_t k);

/* Partition k is PARKED. Returns 1 when it is the head: call turns_advance now. */
int turns_parked(struct turns *t, size_t k);

/* Partition k was written by its worker. It must be the head (else -1, err set); the head
 * moves on. Call turns_advance after. */
int turns_written(struct turns *t, size_t k, struct error *err);

enum turn_step {
    TURN_WRITE_PARKED, /* the head is parked: write its part file, then turns_wrote_parked() */
    TURN_GRANT,        /* the head is done: send GRANT to worker *who */
    TURN_WAIT          /* the head is running, or waiting, or past the end */
};

/* What the head needs now that the turn has moved on (`known` partitions planned). *who is the
 * partition (TURN_WRITE_PARKED) or the worker (TURN_GRANT). */
enum turn_step turns_advance(const struct turns *t, size_t known, size_t *who);

/* The parent wrote the parked head's part file: it is WRITTEN, the head moves on. */
void turns_wrote_parked(struct turns *t);

/* Whether partition k's input is no longer read by anyone (DONE, PARKED or WRITTEN). */
int turns_settled(const struct turns *t, size_t k);

#endif
