/*
 * core/inprocess.c: the in-process mode (--in-process, --partition K): the same chain as a
 * worker's, run over the partitions one after another in this process, without fork, so that
 * gdb and valgrind see the plugin; every partition runs in order, so it is always its turn and
 * the output goes straight to the output. A stream is decoded as the partitions run.
 */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bgzf_writer.h"
#include "chain.h"
#include "log.h"
#include "rejects.h"
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
    struct chain_skip sk;
    struct rejects rj;
    struct error ignored;
    int failed_step;

    run_source_input(r, p, &in);
    runstats_partition_started(r->stats, p->index, 0, 1);
    /* on_error: skip leaves out records a step fails on, here too; a crash ends the process, as
     * any crash in it does (this mode is for debuggers). */
    memset(&sk, 0, sizeof(sk));
    sk.on_error_skip = r->job->on_error_skip;
    sk.only = -1;
    sk.reject = r->opt->n_replay > 0 ? NULL : rejects_put; /* (run.c: a replay writes none) */
    sk.arg = &rj;
    rejects_begin(&rj, r->opt->log_dir, p->index, in.input->is_stdin ? "-" : in.input->path,
                  r->steps, r->job->n_steps, &r->job->framing);
    chain_set_skip(chain, sk.on_error_skip ? &sk : NULL);
    if (chain_run(chain, p, &in, sink, &stats, &failed_step, err) != 0 ||
        rejects_end(&rj, err) != 0) {
        rejects_end(&rj, &ignored);
        chain_set_skip(chain, NULL);
        run_describe_partition(r, p, where, sizeof(where));
        if (failed_step >= 0) {
            return error_prefix(err, "%s failed in %s", where, r->steps[failed_step].label);
        }
        return error_prefix(err, "%s failed", where);
    }
    chain_set_skip(chain, NULL);
    r->records_in += stats.records_in;
    r->records_out += stats.records_out;
    r->skipped += stats.skipped;
    runstats_partition_done(r->stats, p->index, 0, &stats, stats.skipped);
    runstats_partition_written(r->stats, p->index);
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

/* Partition k for the replay, planning (decoding) up to it first. A stream's partitions are
 * decoded once, front to back: what lies before k is released as the plan grows, so a stream's
 * partitions must come in increasing order (they do in a reproduce line: the scheduler hands
 * them out so). */
static int
replay_reach(struct run *r, size_t i, const struct partition **p, struct error *err)
{
    const size_t *list = r->opt->replay;
    struct planner *pl = &r->planner;
    size_t k = list[i];

    if (i > 0 && k <= list[i - 1] && r->inputs->n_streams > 0) {
        error_set(err,
                  "--replay: partition %zu after %zu: a job with a gzip input without an index "
                  "replays its partitions in increasing order",
                  k, list[i - 1]);
        return ERR_INVALID;
    }
    while (k >= pl->live.n_parts && !pl->planned_all && !signals_caught) {
        planner_release(pl, pl->live.n_parts); /* none before k is run again */
        if (planner_more(pl, PLANNER_DECODE_BUDGET, err) != 0) {
            return -1;
        }
    }
    if (partition_at(r, k, p, err) != 0) {
        return -1;
    }
    if (*p == NULL) {
        error_set(err, "--replay: partition %zu: the job has %zu partition(s), numbered from 0", k,
                  pl->live.n_parts);
        return ERR_INVALID;
    }
    return 0;
}

/* --replay LIST: the listed partitions, in that order, through one chain, stopping at the first
 * that fails. Then, as for --partition K, the partition after the last is planned (a stream's
 * end is checked when the last is its last but one). */
static int
replay_all(struct run *r, struct chain *chain, struct chain_sink *sink, struct error *err)
{
    const struct run_options *opt = r->opt;
    const struct partition *p = NULL;
    size_t i, last = opt->replay[opt->n_replay - 1];
    int rc;

    for (i = 0; i < opt->n_replay; i++) {
        rc = replay_reach(r, i, &p, err);
        if (rc == 0) {
            rc = run_one(r, chain, p, sink, err);
        }
        if (rc != 0) {
            return rc;
        }
    }
    planner_release(&r->planner, last + 1);
    return partition_at(r, last + 1, &p, err);
}

/* Where the chain is in this process, for the note a fatal signal leaves (as a worker's death
 * is reported): partition, step, record. */
static struct chain_progress where_now = {-1, -1, UINT64_MAX};
static const struct run *noted;

static size_t
put_text(char *buf, size_t len, size_t cap, const char *text)
{
    while (*text != '\0' && len + 1 < cap) {
        buf[len++] = *text++;
    }
    return len;
}

static size_t
put_number(char *buf, size_t len, size_t cap, uint64_t v)
{
    char digits[24];
    size_t n = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0 && len + 1 < cap) {
        buf[len++] = digits[--n];
    }
    return len;
}

/* A fatal signal in this process: says where (async-signal-safe: no stdio, no malloc), then
 * dies of it as it would have (a core dump, or the debugger's stop, is not lost). */
static void
note_fatal(int sig)
{
    char buf[PATH_MAX + 256];
    size_t len = 0, cap = sizeof(buf);
    int64_t part = where_now.partition;
    int32_t step = where_now.step;

    len = put_text(buf, len, cap, "tranche: in-process: killed by signal SIG");
    len = put_text(buf, len, cap, signals_name(sig));
    if (noted != NULL && part >= 0) {
        len = put_text(buf, len, cap, " in partition ");
        len = put_number(buf, len, cap, (uint64_t)part);
        len = put_text(buf, len, cap, ", ");
        len = put_text(buf, len, cap, step >= 0 ? noted->steps[step].label : "outside any step");
        if (where_now.record_start != UINT64_MAX) {
            len = put_text(buf, len, cap, ", at the record starting at byte ");
            len = put_number(buf, len, cap, where_now.record_start);
        }
    } else if (noted != NULL && step >= 0) {
        len = put_text(buf, len, cap, " in ");
        len = put_text(buf, len, cap, noted->steps[step].label);
        len = put_text(buf, len, cap, ", outside any partition (init or fini)");
    }
    len = put_text(buf, len, cap, "\n");
    if (write(STDERR_FILENO, buf, len) < 0) {
        /* nothing more to do: the signal below is the report */
    }
    raise(sig); /* SA_RESETHAND: the default action now */
}

/* Notes fatal signals for the run (each whose action is the default: a sanitizer's handler is
 * left alone). */
static void
catch_fatal(const struct run *r)
{
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    struct sigaction sa, old;
    size_t i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = note_fatal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    noted = r;
    for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
            (old.sa_flags & SA_SIGINFO) == 0) {
            sigaction(fatal[i], &sa, NULL);
        }
    }
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
    catch_fatal(r);
    if (chain_new(r->steps, r->job->n_steps, &r->job->framing, 0, r->log_fd, &where_now, &chain,
                  &failed_step, err) != 0) {
        bgzf_writer_release(&direct.writer);
        guarded = NULL;
        return error_prefix(err, "%s failed to start",
                            failed_step >= 0 ? r->steps[failed_step].label : "a step");
    }
    chain_set_stop(chain, &signals_caught);
    chain_set_framed(chain, r->framed);
    rc = r->opt->n_replay > 0 ? replay_all(r, chain, &sink, err)
                              : run_all(r, chain, &sink, only, err);
    if (rc == 0 && chain_finish(chain, &failed_step, err) != 0) {
        rc = error_prefix(err, "%s failed in fini",
                          failed_step >= 0 ? r->steps[failed_step].label : "a step");
    } else if (rc != 0) {
        chain_free(chain);
    }
    guarded = NULL;
    noted = NULL;
    bgzf_writer_release(&direct.writer);
    return rc;
}
