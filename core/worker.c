/* core/worker.c: a worker process: runs partitions, writes their output in turn (worker.h). */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgzf_writer.h"
#include "grow.h"
#include "io.h"
#include "log.h"
#include "rejects.h"
#include "signals.h"

/* A worker's state while it runs one partition; its chain's sink. */
struct part_writer {
    const struct worker_env *env;
    struct bgzf_writer *writer;
    size_t partition;
    int head;     /* its turn: output goes straight to the output */
    int spill_fd; /* the part file on disk, or -1 */
    int spilled;  /* a part file on disk was used */
    char spill_path[PATH_MAX + 32];
};

/* A bgzf_put_fn into the partition's part file on disk, created on first use in the job's
 * private part directory (parts.h), and kept by its descriptor. */
static int
spill(void *arg, const void *data, size_t len, struct error *err)
{
    struct part_writer *pw = arg;

    if (pw->spill_fd < 0) {
        if (parts_create(&pw->env->run->output.parts, pw->partition, &pw->spill_fd, err) != 0) {
            return -1;
        }
        pw->spilled = 1;
    }
    if (io_write_all(pw->spill_fd, data, len) != 0) {
        return error_errno(err, "cannot write part file %s", pw->spill_path);
    }
    return 0;
}

/* Closes the part file on disk, if one is open. */
static int
close_spill(struct part_writer *pw, struct error *err)
{
    int fd = pw->spill_fd;

    pw->spill_fd = -1;
    if (fd >= 0 && close(fd) != 0) {
        return error_errno(err, "cannot write part file %s", pw->spill_path);
    }
    return 0;
}

/* On its turn: the part file on disk first, if there is one (read back through the descriptor
 * that wrote it, then removed), then what is held in memory. */
static int
take_turn(struct part_writer *pw, struct error *err)
{
    struct output *out = &pw->env->run->output;

    pw->head = 1;
    if (pw->spill_fd >= 0 &&
        (output_append(out, pw->spill_fd, pw->spill_path, err) != 0 || close_spill(pw, err) != 0 ||
         parts_remove(&out->parts, pw->partition, err) != 0)) {
        return -1;
    }
    if (pw->writer->hold_len > 0) {
        if (output_write(out, pw->writer->hold, pw->writer->hold_len, err) != 0) {
            return -1;
        }
        pw->writer->hold_len = 0;
    }
    return 0;
}

/* Keeps output that is not due: compressed output in the writer's hold buffer (spilled as a
 * whole past the threshold), plain output in the chain's buffer (declined until it is large). */
static int
keep(struct part_writer *pw, const char *data, size_t len, size_t *taken, struct error *err)
{
    struct bgzf_writer *w = pw->writer;

    if (w->enc != NULL) {
        if (bgzf_writer_put(w, bgzf_writer_hold, w, data, len, 0, taken, err) != 0) {
            return -1;
        }
        if (w->hold_len >= pw->env->spill_after) {
            if (spill(pw, w->hold, w->hold_len, err) != 0) {
                return -1;
            }
            w->hold_len = 0;
        }
        return 0;
    }
    if (len >= pw->env->spill_after) {
        return bgzf_writer_put(w, spill, pw, data, len, 0, taken, err);
    }
    return 0;
}

/* The chain's sink in a worker: write when it is this partition's turn, otherwise keep. */
static int
worker_drain(void *arg, const char *data, size_t len, int last, size_t *taken, struct error *err)
{
    struct part_writer *pw = arg;
    const uint64_t *head = &pw->env->shared->head;

    *taken = 0;
    if (!pw->head && !pw->env->hold_until_done &&
        __atomic_load_n(head, __ATOMIC_ACQUIRE) == pw->partition && take_turn(pw, err) != 0) {
        return -1;
    }
    if (pw->head) {
        return bgzf_writer_put(pw->writer, output_put, &pw->env->run->output, data, len, last,
                               taken, err);
    }
    return keep(pw, data, len, taken, err);
}

/* The records the next partition is to leave out (CMD_SKIP), in offset order. */
struct skip_list {
    struct chain_skip_entry *v;
    size_t n, cap;
    uint64_t partition;
};

static void
skip_list_clear(struct skip_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free((char *)l->v[i].reason);
    }
    l->n = 0;
}

/* Adds the record of a CMD_SKIP, keeping the list in offset order. */
static int
skip_list_add(struct skip_list *l, const struct command *cmd)
{
    char *reason = strndup(cmd->reason, sizeof(cmd->reason));
    size_t i;

    if (reason == NULL || GROW(l->v, l->cap, l->n + 1) != 0) {
        free(reason);
        return -1;
    }
    for (i = l->n; i > 0 && l->v[i - 1].offset > cmd->offset; i--) {
        l->v[i] = l->v[i - 1];
    }
    l->v[i].offset = cmd->offset;
    l->v[i].step = cmd->step;
    l->v[i].reason = reason;
    l->n++;
    l->partition = cmd->partition;
    return 0;
}

/* Ends a worker. What plugins left in their stdio buffers goes to the log first: _exit would
 * drop it. */
static void __attribute__((noreturn)) worker_exit(int status)
{
    fflush(NULL);
    _exit(status);
}

static void
send_report(const struct worker_env *env, struct report *rep, enum report_kind kind)
{
    rep->kind = kind;
    if (io_write_all(env->report_fd, rep, sizeof(*rep)) != 0) {
        worker_exit(1); /* the parent is gone */
    }
}

/* Reports a failure and ends the worker; fini runs first, as plugin.h promises. */
static void __attribute__((noreturn))
worker_fail(const struct worker_env *env, const struct partition *p, struct chain *chain,
            struct report *rep, int step, const struct error *err)
{
    const struct step *steps = env->run->steps;

    rep->kind = REPORT_FAILED;
    rep->step = step;
    rep->broken_pipe = env->run->output.broken_pipe;
    snprintf(rep->msg, sizeof(rep->msg), "%s", err->msg);
    if (rep->partition != UINT64_MAX) {
        log_line(env->log_fd,
                 "worker %d: partition %" PRIu64 " [%" PRIu64 ", %" PRIu64 ") failed in %s: %s",
                 env->id, rep->partition, p->start, p->end, step >= 0 ? steps[step].label : "I/O",
                 err->msg);
    } else {
        log_line(env->log_fd, "worker %d: init failed: %s", env->id, err->msg);
    }
    chain_free(chain);
    io_write_all(env->report_fd, rep, sizeof(*rep));
    worker_exit(1);
}

static void
log_partition(const struct worker_env *env, const struct partition *p, const struct report *rep,
              const char *note)
{
    log_line(env->log_fd,
             "worker %d: partition %zu [%" PRIu64 ", %" PRIu64 ") of %s: records in %" PRIu64
             ", out %" PRIu64 ", %" PRIu64 " bytes out%s, %.3fs",
             env->id, p->index, p->start, p->end, env->run->inputs->v[p->file].path,
             rep->stats.records_in, rep->stats.records_out, rep->stats.bytes_out, note,
             rep->stats.nanos / 1e9);
}

/* Waits for the GRANT of partition k, as long as the partition took to run and at least
 * park_after_ms. Returns 1 when granted, 0 when the wait is over (the caller parks). */
static int
wait_for_turn(const struct worker_env *env, size_t k, uint64_t nanos)
{
    struct pollfd pfd = {env->cmd_fd, POLLIN, 0};
    struct command cmd;
    uint64_t ms = nanos / 1000000;
    int ready;

    if (ms < env->park_after_ms) {
        ms = env->park_after_ms;
    }
    do {
        /* (UINT64_MAX: no part directory to park in, wait for ever) */
        ready = poll(&pfd, 1,
                     env->park_after_ms == UINT64_MAX ? -1
                     : ms > INT32_MAX                 ? INT32_MAX
                                                      : (int)ms);
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) {
        return 0;
    }
    if (io_read_full(env->cmd_fd, &cmd, sizeof(cmd)) != (ssize_t)sizeof(cmd) ||
        cmd.kind != CMD_GRANT || cmd.partition != k) {
        worker_exit(1); /* the parent is gone, or broke the protocol: nothing sane to do */
    }
    return 1;
}

/* Moves everything partition k still holds into its part file on disk, in order, and closes it:
 * the parent writes it to the output when the partition's turn comes. */
static int
park(struct part_writer *pw, const char *pending, size_t len, struct error *err)
{
    size_t taken;

    if (spill(pw, "", 0, err) != 0) { /* creates the part file even for an empty output */
        return -1;
    }
    if (pw->writer->hold_len > 0) {
        if (spill(pw, pw->writer->hold, pw->writer->hold_len, err) != 0) {
            return -1;
        }
        pw->writer->hold_len = 0;
    }
    if (bgzf_writer_put(pw->writer, spill, pw, pending, len, 1, &taken, err) != 0) {
        return -1;
    }
    return close_spill(pw, err);
}

/* A partition that ran before its turn: waits for GRANT and writes it, or parks it. Returns the
 * report to send (WRITTEN or PARKED). */
static enum report_kind
finish_late(struct part_writer *pw, const struct partition *p, struct chain *chain,
            struct report *rep)
{
    const struct worker_env *env = pw->env;
    const char *pending;
    size_t pending_len, taken;
    struct error err;

    struct chain_progress *where = &env->shared->progress[env->id - 1];

    send_report(env, rep, REPORT_DONE);
    chain_pending(chain, &pending, &pending_len);
    /* Writing (or parking) the partition's output: a death now is in it, in no step. */
    where->record_start = UINT64_MAX;
    where->step = -1;
    where->partition = (int64_t)p->index;
    if (!wait_for_turn(env, p->index, rep->stats.nanos)) {
        if (park(pw, pending, pending_len, &err) != 0) {
            worker_fail(env, p, chain, rep, -1, &err);
        }
        log_partition(env, p, rep, " (parked in a part file on disk until its turn)");
        where->partition = -1;
        return REPORT_PARKED;
    }
    if (take_turn(pw, &err) != 0 || bgzf_writer_put(pw->writer, output_put, &env->run->output,
                                                    pending, pending_len, 1, &taken, &err) != 0) {
        worker_fail(env, p, chain, rep, -1, &err);
    }
    where->partition = -1;
    return REPORT_WRITTEN;
}

/* Runs one partition; writes its output now if it is its turn, else on GRANT, or parks it if the
 * turn is long in coming. */
static void
run_partition(const struct worker_env *env, const struct partition *p, struct chain *chain,
              struct bgzf_writer *writer, const struct skip_list *skips)
{
    struct part_writer pw;
    struct chain_sink sink = {worker_drain, &pw};
    struct source_input in;
    struct report rep;
    struct error err;
    struct rejects rj;
    struct chain_skip sk;
    enum report_kind kind = REPORT_WRITTEN;
    int failed_step = -1;
    const struct run *r = env->run;

    memset(&rep, 0, sizeof(rep));
    rep.partition = p->index;
    memset(&pw, 0, sizeof(pw));
    pw.env = env;
    pw.writer = writer;
    pw.partition = p->index;
    pw.spill_fd = -1;
    parts_path(&env->run->output.parts, p->index, pw.spill_path, sizeof(pw.spill_path));
    run_source_input(env->run, p, &in);
    memset(&sk, 0, sizeof(sk));
    sk.on_error_skip = r->job->on_error_skip;
    sk.only = -1;
    if (skips->n > 0 && skips->partition == p->index) {
        sk.skip = skips->v;
        sk.n_skip = skips->n;
    }
    rejects_begin(&rj, env->log_dir, p->index, in.input->is_stdin ? "-" : in.input->path, r->steps,
                  r->job->n_steps, &r->job->framing);
    sk.reject = rejects_put;
    sk.arg = &rj;
    chain_set_skip(chain, sk.on_error_skip || sk.n_skip > 0 ? &sk : NULL);
    if (chain_run(chain, p, &in, &sink, &rep.stats, &failed_step, &err) != 0 ||
        rejects_end(&rj, &err) != 0) {
        struct error ignored;
        rejects_end(&rj, &ignored);
        worker_fail(env, p, chain, &rep, failed_step, &err);
    }
    chain_set_skip(chain, NULL);
    rep.spilled = pw.spilled;
    if (pw.head && writer->hold_len > 0) {
        error_set(&err, "internal error: compressed output held after the turn");
        worker_fail(env, p, chain, &rep, -1, &err);
    }
    if (!pw.head) {
        kind = finish_late(&pw, p, chain, &rep);
    }
    if (kind == REPORT_WRITTEN) {
        log_partition(env, p, &rep, rep.spilled ? " (spilled to a part file on disk)" : "");
    }
    send_report(env, &rep, kind);
}

/* A chain_sink that drops the output (a probe's). */
static int
drop(void *arg, const char *data, size_t len, int last, size_t *taken, struct error *err)
{
    (void)arg, (void)data, (void)last, (void)err;
    *taken = len;
    return 0;
}

/* Runs only the record at `offset` of partition p, its output dropped: PROBED when it went
 * through, else the worker fails (or dies) as the partition's worker did. */
static void
run_probe(const struct worker_env *env, const struct partition *p, struct chain *chain,
          uint64_t offset)
{
    struct chain_sink sink = {drop, NULL};
    struct source_input in;
    struct chain_skip sk;
    struct report rep;
    struct error err;
    int failed_step = -1;

    memset(&rep, 0, sizeof(rep));
    rep.partition = p->index;
    memset(&sk, 0, sizeof(sk));
    sk.only = (int64_t)offset;
    chain_set_skip(chain, &sk);
    run_source_input(env->run, p, &in);
    log_line(env->log_fd,
             "worker %d: running the record at byte %" PRIu64 " of partition %zu alone", env->id,
             offset, p->index);
    if (chain_run(chain, p, &in, &sink, &rep.stats, &failed_step, &err) != 0) {
        worker_fail(env, p, chain, &rep, failed_step, &err);
    }
    chain_set_skip(chain, NULL);
    log_line(env->log_fd, "worker %d: the record at byte %" PRIu64 " ran fine alone", env->id,
             offset);
    send_report(env, &rep, REPORT_PROBED);
}

/* Opens the worker's log, and points its stdout and stderr at it. */
static int
open_log(struct worker_env *env, struct error *err)
{
    char name[64];

    snprintf(name, sizeof(name), "worker-%d.log", env->id);
    if (log_open_more(env->log_dir, name, &env->log_fd, err) != 0) {
        return -1;
    }
    /* Whatever a plugin prints goes to this worker's log, never to the job's output (which
     * run.c moved off descriptors 0-2), line by line so that it interleaves with log lines. */
    dup2(env->log_fd, STDOUT_FILENO);
    dup2(env->log_fd, STDERR_FILENO);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return 0;
}

/* After STOP: the steps' fini, which may not emit; one that does fails the job. */
static void
finish(const struct worker_env *env, struct chain *chain)
{
    struct report rep;
    struct error err;
    int step;

    if (chain_finish(chain, &step, &err) == 0) {
        return;
    }
    memset(&rep, 0, sizeof(rep));
    rep.partition = UINT64_MAX;
    rep.in_fini = 1;
    worker_fail(env, NULL, NULL, &rep, step, &err);
}

void
worker_main(const struct worker_env *start)
{
    struct worker_env me = *start, *env = &me;
    const struct run *r = env->run;
    struct chain *chain = NULL;
    struct bgzf_writer writer;
    struct partition part;
    struct report rep;
    struct command cmd;
    struct error err;
    struct skip_list skips;
    int failed_step;

    signals_child_default(); /* a closed standard output is EPIPE, reported like any error */
    sigprocmask(SIG_SETMASK, &env->mask, NULL);
    memset(&rep, 0, sizeof(rep));
    rep.partition = UINT64_MAX;
    env->log_fd = -1;
    if (open_log(env, &err) != 0 || bgzf_writer_init(&writer, r->opt->gzip_level, &err) != 0) {
        worker_fail(env, NULL, NULL, &rep, -1, &err);
    }
    if (chain_new(r->steps, r->job->n_steps, &r->job->framing, env->id, env->log_fd,
                  &env->shared->progress[env->id - 1], &chain, &failed_step, &err) != 0) {
        worker_fail(env, NULL, NULL, &rep, failed_step, &err);
    }
    chain_set_framed(chain, r->framed);
    log_line(env->log_fd, "worker %d (pid %ld) started", env->id, (long)getpid());
    send_report(env, &rep, REPORT_READY);
    memset(&skips, 0, sizeof(skips));
    while (io_read_full(env->cmd_fd, &cmd, sizeof(cmd)) == (ssize_t)sizeof(cmd) &&
           cmd.kind != CMD_STOP) {
        /* A GRANT here is for a partition this worker parked as it was sent: the parent
         * writes that one itself. */
        part = cmd.part; /* this worker's copy of the plan is from fork time */
        if (cmd.kind == CMD_SKIP && skip_list_add(&skips, &cmd) != 0) {
            error_set(&err, "out of memory");
            worker_fail(env, NULL, chain, &rep, -1, &err);
        } else if (cmd.kind == CMD_ASSIGN) {
            run_partition(env, &part, chain, &writer, &skips);
            skip_list_clear(&skips);
        } else if (cmd.kind == CMD_PROBE) {
            run_probe(env, &part, chain, cmd.offset);
        }
    }
    skip_list_clear(&skips);
    free(skips.v);
    bgzf_writer_release(&writer);
    finish(env, chain);
    log_line(env->log_fd, "worker %d finished", env->id);
    worker_exit(0);
}
