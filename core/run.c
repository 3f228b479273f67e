/* core/run.c: a job from its log and temporary output to its commit (see run.h). */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "bgzf.h"
#include "log.h"
#include "paths.h"
#include "rejects.h"
#include "scheduler.h"
#include "signals.h"

void
run_source_input(const struct run *r, const struct partition *p, struct source_input *in)
{
    memset(in, 0, sizeof(*in));
    in->input = &r->inputs->v[p->file];
    in->mem = planner_data(&r->planner, p);
    in->check_tail = r->opt->only_partition >= 0 || r->opt->n_replay > 0;
}

int
run_in_this_process(const struct run_options *opt)
{
    return opt->in_process || opt->only_partition >= 0 || opt->n_replay > 0;
}

void
run_describe_partition(const struct run *r, const struct partition *p, char *buf, size_t size)
{
    const struct input *in = &r->inputs->v[p->file];

    snprintf(buf, size, "partition %zu (%sbytes %" PRIu64 "-%" PRIu64 " of %s)", p->index,
             input_is_compressed(in) ? "decompressed " : "", p->start, p->end, in->path);
}

/* (run.h) */
int
run_keep_output_off_stdio(struct output *o, int *saved_stdout, struct error *err)
{
    int moved;

    if (o->fd > STDERR_FILENO) {
        return 0;
    }
    moved = fcntl(o->fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (moved < 0) {
        return error_errno(err, "cannot move the output's descriptor");
    }
    if (o->fd == STDOUT_FILENO && o->tmp_path == NULL) {
        *saved_stdout = dup(STDOUT_FILENO);
        if (*saved_stdout < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
            close(moved);
            return error_errno(err, "cannot redirect standard output");
        }
    } else {
        close(o->fd); /* a file that got a standard descriptor because that one was closed */
    }
    o->fd = moved;
    return 0;
}

/* Opens the output (output.h: its directory is made, and removed again if the job fails; what
 * it is decides how it is written, or refuses it), off descriptors 0-2. Returns a result code. */
static int
open_output(struct run *r, int *saved_stdout, struct error *err)
{
    int rc = output_open(&r->output, r->job->output, err);

    if (rc != 0) {
        return rc;
    }
    output_set_fsync(&r->output, r->opt->fsync);
    if (run_keep_output_off_stdio(&r->output, saved_stdout, err) != 0) {
        output_abort(&r->output);
        return ERR_INVALID;
    }
    return 0;
}

/* Runs the partitions, forked or in this process. */
static int
run_partitions(struct run *r, const sigset_t *old_mask, struct error *err)
{
    const struct run_options *opt = r->opt;
    sigset_t stop_set;
    int rc;

    if (opt->only_partition >= 0) {
        return inprocess_run(r, opt->only_partition, err);
    }
    if (run_in_this_process(opt) || (r->planner.planned_all && r->planner.live.n_parts == 0)) {
        return inprocess_run(r, -1, err);
    }
    /* While workers run, the stop signals are blocked except inside ppoll(), so that one cannot
     * slip in between the check and the wait. */
    signals_stop_set(&stop_set);
    sigprocmask(SIG_BLOCK, &stop_set, NULL);
    rc = scheduler_run(r, old_mask, err);
    sigprocmask(SIG_SETMASK, old_mask, NULL);
    return rc;
}

/* Ends the output (gzip: BGZF's empty end-of-file block, once every part is in) and commits. */
static int
finish_output(struct run *r, struct error *err)
{
    if (r->opt->gzip_level > 0 && !r->opt->gzip_no_eof &&
        output_write(&r->output, bgzf_eof_block, BGZF_EOF_SIZE, err) != 0) {
        return -1;
    }
    return output_commit(&r->output, err);
}

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Each step's record() runs inside the emit() of the step before it: the stack a worker needs
 * grows with the chain. Raises the soft stack limit (inherited by the workers, and honoured as the
 * main thread's stack grows) to what the chain may need, as far as the hard limit allows. */
static rlim_t
stack_need(size_t n_steps)
{
    return (rlim_t)n_steps * LOADER_STEP_STACK + (rlim_t)(4u << 20);
}

int
run_check_stack(size_t n_steps, struct error *err)
{
    struct rlimit rl;
    rlim_t need = stack_need(n_steps);

    if (getrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
        return 0;
    }
    error_set(err,
              "a chain of %zu steps may need %llu KiB of stack (%u KiB a step), more than the hard "
              "stack limit of %llu KiB (ulimit -Hs): raise it, or use at most %llu steps",
              n_steps, (unsigned long long)need >> 10, LOADER_STEP_STACK >> 10,
              (unsigned long long)rl.rlim_max >> 10,
              rl.rlim_max > (4u << 20)
                  ? (unsigned long long)((rl.rlim_max - (4u << 20)) / LOADER_STEP_STACK)
                  : 0ull);
    return ERR_INVALID;
}

static void
ensure_stack(const struct run *r)
{
    rlim_t need = stack_need(r->job->n_steps);
    struct rlimit rl;

    if (getrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
        return;
    }
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
    if (setrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_cur < need) {
        log_line(r->log_fd, "the stack limit (%llu bytes) is below what %zu steps may need",
                 (unsigned long long)rl.rlim_cur, r->job->n_steps);
    }
}

/* Whether more records were left out than max_skipped allows. */
static int
too_many_skipped(const struct run *r, struct error *err)
{
    double f = r->job->max_skipped_fraction;

    if (r->skipped > r->job->max_skipped) { /* (the scheduler stops sooner; in-process, here) */
        error_set(err,
                  "%" PRIu64
                  " records were left out (on_error: skip), more than max_skipped (%" PRIu64
                  "); they are listed in %s/rejects.tsv",
                  r->skipped, r->job->max_skipped, r->opt->log_dir);
        return 1;
    }
    if (f < 0 || r->skipped == 0 || (double)r->skipped <= f * (double)r->records_in) {
        return 0;
    }
    error_set(err,
              "%" PRIu64 " of %" PRIu64 " records were left out (on_error: skip), more than "
              "max_skipped (%g%%); they are listed in %s/rejects.tsv",
              r->skipped, r->records_in, f * 100, r->opt->log_dir);
    return 1;
}

/* The work directory (resume.h): with --resume, the output of the partitions an interrupted run
 * wrote becomes this run's temporary output, and the scheduler starts after them; without it,
 * what an earlier run left is removed (this run starts afresh). */
static int
start_resume(struct run *r, struct error *err)
{
    struct resume *rs = r->resume;
    struct output *o = &r->output;
    int fd;

    if (!r->opt->resume) {
        if (resume_exists(rs)) {
            log_line(r->log_fd, "removed %s, left by an earlier run: this run starts afresh",
                     rs->dir);
            resume_remove(rs);
        }
        return 0;
    }
    if (resume_load(rs, err) != 0 || resume_take_partial(rs, o->tmp_path, err) != 0) {
        return ERR_INVALID;
    }
    fd = open(o->tmp_path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || lseek(fd, (off_t)rs->out_len, SEEK_SET) < 0) {
        if (fd >= 0) {
            close(fd);
        }
        return error_errno(err, "cannot open %s", o->tmp_path), ERR_INVALID;
    }
    if (dup2(fd, o->fd) < 0) {
        close(fd);
        return error_errno(err, "cannot open %s", o->tmp_path), ERR_INVALID;
    }
    close(fd);
    log_line(r->log_fd, "resuming from %s: %zu partition(s) done, %" PRIu64 " bytes of output",
             rs->dir, rs->done, rs->out_len);
    return 0;
}

/* After a failure or a stop: keeps what was written for --resume (resume.h), and says so in
 * the message; a run that wrote nothing (and resumed nothing) keeps nothing. */
static void
keep_work(struct run *r, struct error *err)
{
    struct resume *rs = r->resume;
    const struct runstats *st = r->stats;
    struct error save_err;
    size_t k, n;

    if (r->written <= rs->done) {
        if (rs->done == 0) {
            resume_remove(rs);
            return;
        }
        r->written = rs->done; /* (nothing more: what was resumed is kept as it was) */
        r->written_bytes = rs->out_len;
    }
    for (k = rs->done; k < r->written && k < r->planner.live.n_parts; k++) {
        const struct partition *p = &r->planner.live.parts[k];
        struct resume_part rp;
        memset(&rp, 0, sizeof(rp));
        rp.file = p->file;
        rp.start = p->start;
        rp.end = p->end;
        rp.out_end = r->out_end[k];
        if (k < st->n_parts && st->parts != NULL) {
            rp.records_in = st->parts[k].records_in;
            rp.records_out = st->parts[k].records_out;
            rp.bytes_in = st->parts[k].bytes_in;
            rp.bytes_out = st->parts[k].bytes_out;
            rp.skipped = st->parts[k].skipped;
        }
        if (resume_note(rs, &rp) != 0) {
            log_line(r->log_fd, "out of memory: nothing kept for --resume");
            return;
        }
    }
    rs->out_len = r->written_bytes;
    if (r->output.tmp_path == NULL || ftruncate(r->output.fd, (off_t)rs->out_len) != 0) {
        log_line(r->log_fd, "nothing kept for --resume: the temporary output is gone%s%s",
                 r->output.tmp_path != NULL ? ": " : "",
                 r->output.tmp_path != NULL ? strerror(errno) : "");
        resume_remove(rs); /* (no manifest without its output) */
        return;
    }
    if (resume_save(rs, r->output.tmp_path, &save_err) != 0) {
        log_line(r->log_fd, "nothing kept for --resume: %s", save_err.msg);
        resume_remove(rs);
        return;
    }
    log_line(r->log_fd, "kept %zu written partition(s) in %s for --resume", rs->done, rs->dir);
    n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n,
             "\n  %zu of %zu partition(s) are done and kept in %s: run the same command with "
             "--resume to go on from there",
             rs->done, r->planner.live.n_parts, rs->dir);
}

/* Runs the job once the log is open; returns a result code. */
static int
run_logged(struct run *r, const struct plan *plan, struct error *err)
{
    const struct run_options *opt = r->opt;
    struct signals_saved saved;
    struct aggregate agg;
    sigset_t old_mask;
    int rc = ERR_INVALID, saved_stdout = -1;
    /* A stream is cut into partitions that fit the ring `slots` times over: a replay cuts it as
     * the run it replays did, with that run's workers. */
    int slots = (opt->in_process || opt->only_partition >= 0) ? 4 : opt->workers + 2;

    memset(&agg, 0, sizeof(agg));
    agg.dir = PARTS_NONE;
    agg.partials_fd = -1;
    signals_catch(&saved, 1);
    sigprocmask(SIG_SETMASK, NULL, &old_mask);
    ensure_stack(r);
    rc = open_output(r, &saved_stdout, err);
    if (rc == 0 && planner_start_window(&r->planner, r->job, r->inputs, plan, opt->window, slots,
                                        r->log_fd, err) != 0) {
        rc = ERR_INVALID;
    }
    if (rc == 0 && r->resume != NULL) {
        rc = start_resume(r, err);
    }
    if (rc == 0 && r->job->aggregate && aggregate_start(r, &agg, err) != 0) {
        rc = ERR_INVALID;
    }
    if (rc != 0) {
        goto out;
    }
    rc = run_partitions(r, &old_mask, err);
    aggregate_end_map(r, &agg);
    if (rc != 0 && r->planner.refused) {
        rc = ERR_INVALID; /* a job that asks too much, as for a plain input */
    }
    if (rc == 0 && too_many_skipped(r, err)) {
        rc = ERR_FAILED;
    }
    /* An input rewritten while the job read it (logrotate's copytruncate) gave some old records
     * and some new: the output is not what any version of it would give. */
    if (rc == 0 && inputs_check_unchanged(r->inputs, err) != 0) {
        rc = ERR_FAILED;
    }
    if (rc == 0 && aggregate_combines(r)) {
        rc = aggregate_combine(r, &agg, err);
    }
    if (rc == 0 && finish_output(r, err) != 0) {
        rc = ERR_FAILED;
    }
    if (rc != 0 && r->output.broken_pipe) {
        rc = ERR_PIPE;
    }
    /* (also when the resumed run is refused after it took the kept output: it stays kept) */
    if (r->resume != NULL &&
        (rc == ERR_FAILED || rc == ERR_TIMEOUT || (rc != 0 && r->resume->taken))) {
        keep_work(r, err);
    } else if (r->resume != NULL && rc == 0) {
        resume_remove(r->resume);
    }
out:
    aggregate_release(&agg);
    if (rc != 0) {
        output_abort(&r->output);
    }
    signals_restore(&saved);
    /* Standard output comes back, unless plugins ran in this process: a thread one of them
     * started may still print, and must not print into the job's output. */
    if (saved_stdout >= 0 && !run_in_this_process(r->opt)) {
        fflush(stdout);
        dup2(saved_stdout, STDOUT_FILENO);
    }
    if (saved_stdout >= 0) {
        close(saved_stdout);
    }
    return rc;
}

/* Puts the partitions' rejects together (rejects.h), also after a failure, so that its owner
 * sees what was left out. */
static void
collect_rejects(struct run *r, int *rc, struct error *err)
{
    struct error collect_err;
    uint64_t n = 0;

    if (rejects_collect(r->opt->log_dir, &n, &collect_err) != 0) {
        log_line(r->log_fd, "%s", collect_err.msg);
        if (*rc == 0) {
            *err = collect_err;
            *rc = ERR_FAILED; /* (the output is committed; exit 1 says the rejects are not) */
            return;
        }
    }
    if (n > 0) {
        log_line(r->log_fd, "%" PRIu64 " record(s) left out (on_error: skip): %s/rejects.tsv", n,
                 r->opt->log_dir);
    }
}

int
run_job(const struct job *job, const struct step *steps, const struct plan *plan,
        const struct inputs *inputs, const struct run_options *opt, struct error *err)
{
    struct run r;
    struct runstats stats;
    struct resume work;
    struct timespec t0;
    int rc;

    memset(&r, 0, sizeof(r));
    r.job = job;
    r.steps = steps;
    r.inputs = inputs;
    r.opt = opt;
    r.output.fd = -1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (path_mkdirs(opt->log_dir, err) != 0 ||
        log_open(opt->log_dir, opt->n_replay > 0 ? "replay.log" : "tranche.log", &r.log_fd, err) !=
            0) {
        return ERR_INVALID;
    }
    /* In this process, this process is the one worker. */
    runstats_init(&stats, &r, run_in_this_process(opt) ? 1 : opt->workers, opt->progress);
    r.stats = &stats;
    /* (a replay leaves out what the job would, but writes no rejects: its log directory may be
     * the run's own, whose rejects stay) */
    if (job->on_error_skip && opt->n_replay == 0 && rejects_prepare(opt->log_dir, err) != 0) {
        close(r.log_fd);
        runstats_release(&stats);
        return ERR_INVALID;
    }
    if (!run_in_this_process(opt) && opt->window == NULL && resume_possible(job, inputs)) {
        if (resume_init(&work, job, steps, inputs, opt->workers, err) != 0) {
            close(r.log_fd);
            runstats_release(&stats);
            return ERR_INVALID;
        }
        r.resume = &work;
    } else if (opt->resume) {
        close(r.log_fd);
        runstats_release(&stats);
        error_set(err, "--resume needs an output file (not standard output, a device or a FIFO), "
                       "inputs that are files, a run with workers (not --in-process), and no "
                       "aggregate stage");
        return ERR_INVALID;
    }
    log_line(r.log_fd, "job %s: %zu input file(s), %zu partition(s), %d worker(s)%s, output %s",
             job->file, inputs->n, plan->n_parts, opt->workers,
             run_in_this_process(opt) ? " (in-process)" : "", job->output);
    rc = run_logged(&r, plan, err);
    runstats_clear(&stats);
    if (job->on_error_skip && opt->n_replay == 0) {
        collect_rejects(&r, &rc, err);
    }
    if (rc == 0 && r.skipped > 0) {
        rc = RESULT_SKIPPED;
    }
    if (rc < 0) {
        log_line(r.log_fd, "job failed: %s", err->msg);
    } else {
        log_line(r.log_fd, "job done: %" PRIu64 " records in, %" PRIu64 " out, %.3fs", r.records_in,
                 r.records_out, seconds_since(&t0));
    }
    runstats_finish(&stats, rc, rc != 0 && rc != RESULT_SKIPPED ? err->msg : NULL);
    close(r.log_fd);
    runstats_release(&stats);
    if (r.resume != NULL) {
        resume_release(&work);
    }
    free(r.out_end);
    planner_free(&r.planner);
    return rc;
}
