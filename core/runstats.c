/* core/runstats.c: what a run did (runstats.h). */
#include "runstats.h"

#include <string.h>

int
runstats_init(struct runstats *rs, const struct run *r, int n_workers, int progress)
{
    memset(rs, 0, sizeof(*rs));
    rs->run = r;
    rs->n_workers = n_workers;
    rs->progress = progress;
    return 0;
}

void
runstats_release(struct runstats *rs)
{
    (void)rs;
}

void
runstats_planned(struct runstats *rs, size_t n_parts, uint64_t bytes)
{
    rs->n_parts = n_parts;
    rs->bytes_planned = bytes;
}

void
runstats_partition_started(struct runstats *rs, size_t k, int w, int attempt)
{
    (void)rs, (void)k, (void)w, (void)attempt;
}

void
runstats_partition_done(struct runstats *rs, size_t k, int w, const struct partition_stats *st,
                        uint64_t skipped)
{
    (void)k, (void)w, (void)st;
    rs->parts_done++;
    rs->skipped += skipped;
}

void
runstats_partition_written(struct runstats *rs, size_t k)
{
    (void)rs, (void)k;
}

void
runstats_partition_retried(struct runstats *rs, size_t k, int w, const char *why)
{
    (void)k, (void)w, (void)why;
    rs->retries++;
}

void
runstats_partition_resumed(struct runstats *rs, size_t k, const struct partition_stats *st,
                           uint64_t skipped)
{
    (void)k, (void)st;
    rs->skipped += skipped;
}

void
runstats_worker_ended(struct runstats *rs, int w, const struct rusage *ru)
{
    (void)rs, (void)w, (void)ru;
}

void
runstats_tick(struct runstats *rs)
{
    (void)rs;
}

int
runstats_tick_ms(const struct runstats *rs)
{
    (void)rs;
    return -1;
}

void
runstats_clear(struct runstats *rs)
{
    (void)rs;
}
