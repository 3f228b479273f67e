/*
 * core/scheduler.h: the parent's side of the worker pool. Forks the workers, hands partitions out
 * one at a time as workers ask (so that a slow partition does not hold the others), moves the
 * output's turn on from partition to partition (turns.h), writes parked partitions itself, and on
 * any failure or stop signal kills every worker and leaves nothing behind. It decodes streams
 * between looks at the workers (planner.h). In the usual case no data passes through the parent
 * and each byte of output is copied into the output once, and memory and disk stay bounded
 * whatever the input size: no more work is handed out while 2 x workers + 2 partitions are parked.
 */
#ifndef TRANCHE_SCHEDULER_H
#define TRANCHE_SCHEDULER_H

#include <signal.h>

#include "error.h"
#include "run.h"

/*
 * Runs every partition of r with r->opt->workers forked workers. The stop signals must be
 * blocked; `old_mask` is the mask to wait with (and the workers' mask). Returns 0, ERR_INVALID
 * when the workers could not be started (nothing ran), or ERR_FAILED with err saying which
 * partition failed and how.
 */
int scheduler_run(struct run *r, const sigset_t *old_mask, struct error *err);

#endif
