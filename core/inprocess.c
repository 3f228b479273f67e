/*
 * core/inprocess.c: the in-process mode (--in-process, --partition K): the same chain as a
 * worker's, run over the partitions one after another in this process, without fork, so that
 * gdb and valgrind see the plugin; every partition runs in order, so it is always its turn and
 * the output goes straight to the output. A stream is decoded as the partitions run.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bgzf_writer.h"
#include "chain.h"
#include "log.h"
#include "run.h"
#include "signals.h"

struct direct {
    struct output *output;
    struct bgzf_writer writer;
};

/* The chain's sink: straight into the output. */
static int
direct_drain(void *arg, const char *data, size_t len, int last, size_t *taken, struct error *err)
{
    struct direct *d = arg;

    return bgzf_writer_put(&d->writer, output_put, d->output, data, len, last, taken, err);
}

/* Partition k, planning (decoding) up to it first. Sets *p to NULL when the job has no such
 * partition. */
static int
partition_at(struct run *r, size_t k, const struct partition **p, struct error *err)
{
    struct planner *pl = &r->planner;

    while (k >= pl->live.n_parts && !pl->planned_all && !signals_caught) {
        if (planner_more(pl, PLANNER_DECODE_BUDGET, err) != 0) {
            return -1;
        }
    }
    if (signals_caught) {
        return error_set(err, "interrupted by signal SIG%s", signals_name((int)signals_caught));
    }
    *p = k < pl->live.n_parts ? &pl->live.parts[k] : NULL;
    return 0;
}

/* Runs partition p through the chain into the output. */
static int
run_one(struct run *r, struct chain *chain, const struct partition *p, struct chain_sink *sink,
        struct error *err)
{
    struct partition_stats stats;
    struct source_input in;
    char where[PATH_MAX + 128];
    int failed_step;

    run_source_input(r, p, &in);
    if (chain_run(chain, p, &in, sink, &stats, &failed_step, err) != 0) {
        run_describe_partition(r, p, where, sizeof(where));
        if (failed_step >= 0) {
            return error_prefix(err, "%s failed in %s", where, r->steps[failed_step].label);
        }
        return error_prefix(err, "%s failed", where);
    }
    r->records_in += stats.records_in;
    r->records_out += stats.records_out;
    log_line(r->log_fd,
             "in-process: partition %zu [%" PRIu64 ", %" PRIu64 ") of %s: records in %" PRIu64
             ", out %" PRIu64 ", %.3fs",
             p->index, p->start, p->end, r->inputs->v[p->file].path, stats.records_in,
             stats.records_out, stats.nanos / 1e9);
    return 0;
}

/* Runs the partitions [0, ...) in order, or only `only` (>= 0). */
static int
run_all(struct run *r, struct chain *chain, struct chain_sink *sink, long only, struct error *err)
{
    const struct partition *p = NULL;
    size_t k;

    for (k = 0;; k++) {
        if (partition_at(r, k, &p, err) != 0) {
            return -1;
        }
        if (p == NULL) {
            break;
        }
        if (only < 0 || k == (size_t)only) {
            if (run_one(r, chain, p, sink, err) != 0) {
                return -1;
            }
        }
        planner_release(&r->planner, k + 1);
        if (only >= 0 && k > (size_t)only) {
            /* Planned (a stream: decoded) one partition past K, as far as a full run would
             * have decoded while K ran: a stream's end is then checked, and its index left,
             * when K is its last partition but one. */
            return 0;
        }
    }
    if (only >= 0 && (size_t)only >= r->planner.live.n_parts) {
        error_set(err, "--partition %ld: the job has %zu partition(s), numbered from 0", only,
                  r->planner.live.n_parts);
        return ERR_INVALID;
    }
    return 0;
}

/* The job running in this process, while plugins run: a plugin that calls exit() ends the
 * process through exit_guard, which must not leave the temporary output, or exit 0. */
static struct run *guarded;
static pid_t guarded_pid;

static void
exit_guard(void)
{
    if (guarded == NULL || getpid() != guarded_pid) {
        return; /* (a child a plugin forked, exiting: not the job's process) */
    }
    output_abort(&guarded->output);
    fprintf(stderr,
            "tranche: %s: job failed: a plugin called exit() during the job (in-process); "
            "nothing was written to %s\n",
            guarded->job->file, guarded->job->output);
    _exit(1);
}

static void
guard(struct run *r)
{
    static int registered;

    if (!registered && atexit(exit_guard) == 0 && at_quick_exit(exit_guard) == 0) {
        registered = 1;
    }
    guarded = r;
    guarded_pid = getpid();
}

int
inprocess_run(struct run *r, long only, struct error *err)
{
    struct chain *chain = NULL;
    struct direct direct = {.output = &r->output};
    struct chain_sink sink = {direct_drain, &direct};
    int failed_step, rc;

    if (bgzf_writer_init(&direct.writer, r->opt->gzip_level, err) != 0) {
        return -1;
    }
    guard(r);
    if (chain_new(r->steps, r->job->n_steps, r->job->delimiter, 0, r->log_fd, NULL, &chain,
                  &failed_step, err) != 0) {
        bgzf_writer_release(&direct.writer);
        guarded = NULL;
        return error_prefix(err, "%s failed to start",
                            failed_step >= 0 ? r->steps[failed_step].label : "a step");
    }
    chain_set_stop(chain, &signals_caught);
    rc = run_all(r, chain, &sink, only, err);
    if (rc == 0 && chain_finish(chain, &failed_step, err) != 0) {
        rc = error_prefix(err, "%s failed in fini",
                          failed_step >= 0 ? r->steps[failed_step].label : "a step");
    } else if (rc != 0) {
        chain_free(chain);
    }
    guarded = NULL;
    bgzf_writer_release(&direct.writer);
    return rc;
}
