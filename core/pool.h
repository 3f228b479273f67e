/*
 * core/pool.h: running a planned job. Forks the workers, hands partitions out one at a time as
 * workers ask (so a slow partition does not hold the others), merges finished parts in order while
 * later ones run, and on any failure stops every worker and leaves nothing behind. Also the
 * in-process mode, which runs the same chain without fork for debuggers.
 */
#ifndef TRANCHE_POOL_H
#define TRANCHE_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config.h"
#include "error.h"
#include "partition.h"
#include "plugin.h"

struct bgzf_index;
struct gz_index;

struct pool_options {
    int workers;         /* > 0 */
    const char *log_dir; /* where tranche.log and worker-N.log go */
    int in_process;      /* run every partition in this process, no fork */
    long only_partition; /* >= 0: run just this partition (in-process); -1: all */
    int gzip_level;      /* 1-9: write the output as BGZF (gzip) at this level; 0: plain */
};

/* What the inputs are at run time: the job's paths, opened read-only by the caller. */
struct pool_inputs {
    char *const *paths;
    const int *fds;
    const struct stat *st;
    const struct bgzf_index *gz; /* per input: its blocks when BGZF, else blocks == NULL */
    const struct gz_index *gzi;  /* per input: its access points when read by index, else n == 0 */
    const unsigned char *stream; /* per input: 1 for gzip decoded by the parent as the job runs */
    uint64_t index_spacing;      /* > 0: a stream leaves an index with points this far apart */
    size_t n;
};

enum pool_result {
    POOL_OK = 0,
    POOL_FAILED = -1,      /* the job ran and failed */
    POOL_NOT_STARTED = -2, /* set-up failed (logs, output, memory): nothing ran */
    POOL_BROKEN_PIPE = -3  /* standard output was closed by its reader; the job was stopped */
};

/*
 * Runs the job. `steps` are loaded (not initialized): init runs in each worker after fork. The
 * plan holds the partitions of every input but the streams, whose partitions are cut as the
 * parent decodes them; they are numbered in input order all the same.
 * Returns POOL_OK when every partition succeeded and the output is in place; otherwise a
 * pool_result, with err naming the partition, byte range, step, what happened and the worker's
 * log. On failure nothing
 * is left at the output path (unless it is "-"), and no part file or process remains.
 */
int pool_run(const struct job *job, const struct step *steps, const struct plan *plan,
             const struct pool_inputs *inputs, const struct pool_options *opt, struct error *err);

#endif
