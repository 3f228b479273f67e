/*
 * core/scheduler.c: the worker pool's parent (see scheduler.h; the messages are in protocol.h,
 * the turn bookkeeping in turns.h, the worker's side in worker.c).
 */
#include "scheduler.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "grow.h"
#include "io.h"
#include "log.h"
#include "paths.h"
#include "protocol.h"
#include "rejects.h"
#include "signals.h"
#include "turns.h"
#include "worker.h"

/* A worker, as the parent sees it. */
struct worker {
    pid_t pid;
    int report_fd; /* parent's read end */
    int cmd_fd;    /* parent's write end */
    int pidfd;     /* readable once the worker has exited (-1: the kernel has no pidfd_open) */
    char *log_path;
    int64_t assigned; /* partition index, or -1 */
    size_t *given;    /* every partition it was given, in order (for the reproduce line) */
    size_t n_given, cap_given;
    int given_lost; /* out of memory noting one: no reproduce line */
    int stopping;   /* sent CMD_STOP */
    int idle;       /* free, but not given work while too many partitions are parked */
    int alive;
    int retiring;      /* it failed in a way the job survives: its end is expected */
    int probing;       /* running the record at probe_offset of `assigned` alone */
    int pending_probe; /* its next process (when READY) runs that probe */
    size_t probe_part;
    uint64_t probe_offset;
    char *probe_reason;             /* the failure the probe is to confirm (malloc'd) */
    int timed_out;                  /* killed for: 1 partition_timeout, 2 record_timeout */
    uint64_t assigned_ms;           /* when it was given `assigned` */
    uint64_t seen_records, seen_ms; /* the record it was last seen on, and when it moved */
};

/* A record to leave out of a partition when it runs again: it killed a worker, alone too. */
struct skip_record {
    size_t partition;
    uint64_t offset;
    int step;
    char reason[512];
};

struct scheduler {
    struct run *run;
    struct worker *workers;
    int n_workers;
    struct shared *shared;
    size_t shared_size;
    struct turns turns;
    pid_t parent;
    sigset_t old_mask; /* the signal mask to wait with */
    size_t spilled;    /* partitions whose output went through a part file on disk */
    uint64_t spill_after;
    uint64_t park_after_ms;
    size_t parts_counted;   /* partitions whose bytes are in bytes_planned */
    uint64_t bytes_planned; /* input bytes of the partitions planned so far */

    /* Failures the job survives (P6): retries, records left out, timeouts. */
    int *attempts; /* per partition: how many times it was handed out */
    size_t cap_attempts;
    struct skip_record *skips;
    size_t n_skips, cap_skips;
    int rewindable;       /* the output is this job's temporary file: a failed head is cut off */
    uint64_t head_offset; /* where the head partition's output begins in it */
    int timed_out;        /* the job failed of a timeout */
};

/* A threshold the tests may lower through the environment (so that they need not build inputs
 * sized against it): a decimal number, else `fallback`. */
static uint64_t
test_knob(const char *name, uint64_t fallback)
{
    const char *text = getenv(name);
    char *end;
    unsigned long long v;

    if (text == NULL || *text == '\0') {
        return fallback;
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    return errno == 0 && *end == '\0' ? (uint64_t)v : fallback;
}

static const struct plan *
live(const struct scheduler *s)
{
    return &s->run->planner.live;
}

/* A resumed run: partition k of the plan (just cut) must be the k-th the interrupted run did. */
static int
check_resumed(const struct scheduler *s, size_t k, struct error *err)
{
    const struct resume *rs = s->run->resume;
    const struct partition *p = &live(s)->parts[k];
    const struct resume_part *was;

    if (rs == NULL || k >= rs->done) {
        return 0;
    }
    was = &rs->parts[k];
    if (p->file != was->file || p->start != was->start || p->end != was->end) {
        return error_set(err,
                         "cannot resume: partition %zu is input %zu [%" PRIu64 ", %" PRIu64
                         ") now, but was input %zu [%" PRIu64 ", %" PRIu64
                         ") in the interrupted run (a gzip input indexed since, say); run without "
                         "--resume to start afresh",
                         k, p->file, p->start, p->end, was->file, was->start, was->end);
    }
    return 0;
}

/* Tracks the partitions planned so far. */
static int
track(struct scheduler *s, struct error *err)
{
    const struct plan *p = live(s);

    for (; s->parts_counted < p->n_parts; s->parts_counted++) {
        if (check_resumed(s, s->parts_counted, err) != 0) {
            return -1;
        }
        s->bytes_planned += p->parts[s->parts_counted].end - p->parts[s->parts_counted].start;
    }
    runstats_planned(s->run->stats, p->n_parts, s->bytes_planned);
    if (p->n_parts > s->cap_attempts) {
        size_t old = s->cap_attempts;
        if (GROW(s->attempts, s->cap_attempts, p->n_parts) != 0) {
            return error_set(err, "out of memory");
        }
        memset(s->attempts + old, 0, (s->cap_attempts - old) * sizeof(*s->attempts));
    }
    if (GROW(s->run->out_end, s->run->cap_out_end, p->n_parts) != 0) {
        return error_set(err, "out of memory");
    }
    return turns_track(&s->turns, p->n_parts, err);
}

/* In the child, right after fork: the parent's log and the other workers' pipes are closed
 * (what every worker shares stays: the output, the inputs and their index files). */
static void
close_others(const struct scheduler *s, int w)
{
    int i;

    close(s->run->log_fd);
    for (i = 0; i < s->n_workers; i++) {
        if (i != w && s->workers[i].pid > 0) {
            close(s->workers[i].report_fd);
            close(s->workers[i].cmd_fd);
            if (s->workers[i].pidfd >= 0) {
                close(s->workers[i].pidfd);
            }
        }
    }
}

/* The worker dies with the parent (even a parent killed with SIGKILL), and has a process group
 * of its own: a plugin's kill(0, sig) reaches its worker and the worker's children, not the
 * runner, and stop_all() ends a worker with whatever it started. Its standard input is
 * /dev/null: a worker is not in the terminal's foreground group, and must not read from it. */
static void
detach_worker(const struct scheduler *s)
{
    int null_fd;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != s->parent) {
        _exit(1); /* the parent died before the line above */
    }
    setpgid(0, 0);
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
        close(null_fd);
    }
}

/* Moves a descriptor of the worker's protocol up, out of the range a plugin that tidies up
 * (closing 3 to 20, say) would close: the worker can then still say what went wrong. */
static int
move_up(int fd)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, WORKER_FD_FLOOR);

    if (high < 0) {
        return fd;
    }
    close(fd);
    return high;
}

static void __attribute__((noreturn))
become_worker(struct scheduler *s, int w, int report_fd, int cmd_fd)
{
    struct worker_env env;

    detach_worker(s);
    close_others(s, w);
    report_fd = move_up(report_fd);
    cmd_fd = move_up(cmd_fd);
    memset(&env, 0, sizeof(env));
    env.run = s->run;
    env.id = w + 1;
    env.report_fd = report_fd;
    env.cmd_fd = cmd_fd;
    env.log_dir = s->run->opt->log_dir;
    env.log_path = s->workers[w].log_path;
    env.shared = s->shared;
    env.spill_after = s->spill_after;
    env.park_after_ms = s->park_after_ms;
    env.hold_until_done =
        !s->rewindable && (s->run->job->retries > 0 || s->run->job->on_error_skip);
    env.mask = s->old_mask;
    worker_main(&env);
}

static int
spawn(struct scheduler *s, int w, struct error *err)
{
    struct worker *wk = &s->workers[w];
    int rep[2], cmd[2];
    pid_t pid;

    if (pipe2(rep, O_CLOEXEC) != 0) {
        return error_errno(err, "cannot create a pipe");
    }
    if (pipe2(cmd, O_CLOEXEC) != 0) {
        close(rep[0]);
        close(rep[1]);
        return error_errno(err, "cannot create a pipe");
    }
    pid = fork();
    if (pid < 0) {
        close(rep[0]);
        close(rep[1]);
        close(cmd[0]);
        close(cmd[1]);
        return error_errno(err, "cannot fork worker %d", w + 1);
    }
    if (pid == 0) {
        close(rep[0]);
        close(cmd[1]);
        become_worker(s, w, rep[1], cmd[0]);
    }
    close(rep[1]);
    close(cmd[0]);
    setpgid(pid, pid); /* (also in the child: whichever runs first) */
    wk->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (wk->pidfd >= 0) {
        fcntl(wk->pidfd, F_SETFD, FD_CLOEXEC);
    }
    wk->pid = pid;
    wk->report_fd = rep[0];
    wk->cmd_fd = cmd[1];
    wk->alive = 1;
    wk->assigned = -1;
    wk->stopping = wk->idle = wk->retiring = wk->probing = wk->timed_out = 0;
    return 0;
}

static int
send_command(struct scheduler *s, struct worker *wk, enum command_kind kind, uint64_t partition)
{
    struct command cmd;

    memset(&cmd, 0, sizeof(cmd));
    cmd.kind = kind;
    cmd.partition = partition;
    if (kind == CMD_ASSIGN || kind == CMD_PROBE) {
        cmd.part = live(s)->parts[partition];
    }
    if (kind == CMD_PROBE) {
        cmd.offset = wk->probe_offset;
    }
    return io_write_all(wk->cmd_fd, &cmd, sizeof(cmd));
}

/* Sends partition k's records to leave out (SKIP), ahead of its ASSIGN. */
static int
send_skips(struct scheduler *s, struct worker *wk, size_t k)
{
    struct command cmd;
    size_t i;

    for (i = 0; i < s->n_skips; i++) {
        if (s->skips[i].partition != k) {
            continue;
        }
        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = CMD_SKIP;
        cmd.partition = k;
        cmd.offset = s->skips[i].offset;
        cmd.step = s->skips[i].step;
        memcpy(cmd.reason, s->skips[i].reason, sizeof(cmd.reason));
        if (io_write_all(wk->cmd_fd, &cmd, sizeof(cmd)) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Notes that wk was given partition k. */
static void
note_given(struct worker *wk, size_t k)
{
    if (GROW(wk->given, wk->cap_given, wk->n_given + 1) != 0) {
        wk->given_lost = 1;
        return;
    }
    wk->given[wk->n_given++] = k;
}

/* The reproduce line of worker w, which failed in partition `failed` (-1: in init, fini or
 * between partitions): the partitions it was given, up to that one; for a worker that failed
 * before it was given any (in init), partition 0, before which a replay runs init too. Set in
 * the run's repro (the caller prints it after the report), and noted in tranche.log. */
static void
note_reproduce(struct scheduler *s, int w, int64_t failed)
{
    struct repro *rp = s->run->opt->repro;
    const struct worker *wk = &s->workers[w];
    size_t n = wk->n_given, first = 0;

    if (rp == NULL || wk->given_lost) {
        return;
    }
    while (failed >= 0 && n > 0 && wk->given[n - 1] != (size_t)failed) {
        n--;
    }
    if (n == 0 && failed >= 0) {
        n = wk->n_given; /* (not found: every partition it was given) */
    }
    if (repro_set(rp, n > 0 ? wk->given : &first, n > 0 ? n : 1) == 0) {
        log_line(s->run->log_fd, "reproduce: %s", rp->line);
    }
}

/* Gives a free worker its next partition, or STOP when there is none left; with too many
 * partitions parked, or none ready yet (a stream still decoding), the worker stays idle. */
static int
assign(struct scheduler *s, int w)
{
    struct worker *wk = &s->workers[w];
    size_t k;

    wk->idle = 0;
    wk->assigned = -1;
    switch (turns_work(&s->turns, live(s)->n_parts, s->run->planner.planned_all, w, &k)) {
    case TURN_IDLE:
        wk->idle = 1;
        return 0;
    case TURN_STOP:
        wk->stopping = 1;
        return send_command(s, wk, CMD_STOP, 0);
    case TURN_WORK:
        break;
    }
    wk->assigned = (int64_t)k;
    wk->assigned_ms = wk->seen_ms = clock_now_ns() / 1000000u;
    wk->seen_records = UINT64_MAX;
    note_given(wk, k);
    s->attempts[k]++;
    runstats_partition_started(s->run->stats, k, w + 1, s->attempts[k]);
    if (s->attempts[k] > 1) {
        log_line(s->run->log_fd, "partition %zu: attempt %d, in worker %d (pid %ld)", k,
                 s->attempts[k], w + 1, (long)wk->pid);
    }
    if (send_skips(s, wk, k) != 0 || send_command(s, wk, CMD_ASSIGN, k) != 0) {
        /* It was dead before it could hear of k: k never ran, and goes back as it was. */
        s->attempts[k]--;
        wk->assigned = -1;
        if (wk->n_given > 0 && wk->given[wk->n_given - 1] == k) {
            wk->n_given--;
        }
        turns_again(&s->turns, k, NULL); /* (out of memory: the job fails with the worker) */
        return -1;
    }
    return 0;
}

/* Builds the message for a worker that reported FAILED. */
static void
report_failure(struct scheduler *s, int w, const struct report *rep, struct error *err)
{
    char where[PATH_MAX + 128];
    const char *step = rep->step >= 0 ? s->run->steps[rep->step].label : NULL;
    const char *log_path = s->workers[w].log_path;

    note_reproduce(s, w, rep->partition == UINT64_MAX ? -1 : (int64_t)rep->partition);
    if (rep->partition == UINT64_MAX) {
        error_set(err, "%s failed %s in worker %d: %s\n  worker log: %s",
                  step != NULL ? step : "a step", rep->in_fini ? "in fini" : "to start", w + 1,
                  rep->msg, log_path);
        return;
    }
    run_describe_partition(s->run, &live(s)->parts[rep->partition], where, sizeof(where));
    if (step != NULL) {
        error_set(err, "%s failed in %s: %s\n  worker %d's log: %s", where, step, rep->msg, w + 1,
                  log_path);
    } else {
        error_set(err, "%s failed: %s\n  worker %d's log: %s", where, rep->msg, w + 1, log_path);
    }
}

/* Builds the message for a worker that died without reporting. */
static void
death_failure(struct scheduler *s, int w, int status, struct error *err)
{
    const struct chain_progress *pr = &s->shared->progress[w];
    const struct worker *wk = &s->workers[w];
    char how[256], where[PATH_MAX + 128];
    int32_t step = pr->step;
    int64_t part = pr->partition;

    if (wk->timed_out != 0) {
        const struct job *job = s->run->job;
        snprintf(how, sizeof(how), "timed out (%s of %.3gs) and was killed",
                 wk->timed_out == 1 ? "partition_timeout" : "record_timeout",
                 (wk->timed_out == 1 ? job->partition_timeout_ms : job->record_timeout_ms) / 1e3);
    } else {
        signals_describe_status(status, how, sizeof(how));
    }
    note_reproduce(s, w, part >= 0 && (size_t)part < live(s)->n_parts ? part : -1);
    if (part >= 0 && (size_t)part < live(s)->n_parts && step < 0 &&
        pr->record_start == UINT64_MAX) {
        run_describe_partition(s->run, &live(s)->parts[part], where, sizeof(where));
        error_set(err,
                  "worker %d (pid %ld) %s in %s, while writing its output\n  worker %d's log: %s",
                  w + 1, (long)wk->pid, how, where, w + 1, wk->log_path);
    } else if (part >= 0 && (size_t)part < live(s)->n_parts && pr->record_start == UINT64_MAX) {
        run_describe_partition(s->run, &live(s)->parts[part], where, sizeof(where));
        error_set(err,
                  "worker %d (pid %ld) %s in %s, %s, outside any record (in begin_partition or "
                  "end_partition)\n  worker %d's log: %s",
                  w + 1, (long)wk->pid, how, where, s->run->steps[step].label, w + 1, wk->log_path);
    } else if (part >= 0 && (size_t)part < live(s)->n_parts) {
        run_describe_partition(s->run, &live(s)->parts[part], where, sizeof(where));
        error_set(err,
                  "worker %d (pid %ld) %s in %s, %s, at the record starting at byte %" PRIu64
                  "\n  worker %d's log: %s",
                  w + 1, (long)wk->pid, how, where,
                  step >= 0 ? s->run->steps[step].label : "outside any step", pr->record_start,
                  w + 1, wk->log_path);
    } else if (step >= 0) {
        error_set(err,
                  "worker %d (pid %ld) %s in %s, outside any partition (init or fini)"
                  "\n  worker %d's log: %s",
                  w + 1, (long)wk->pid, how, s->run->steps[step].label, w + 1, wk->log_path);
    } else {
        error_set(err, "worker %d (pid %ld) %s between partitions\n  worker %d's log: %s", w + 1,
                  (long)wk->pid, how, w + 1, wk->log_path);
    }
}

static void
stop_all(struct scheduler *s)
{
    struct rusage ru;
    int w, status;

    for (w = 0; s->workers != NULL && w < s->n_workers; w++) {
        if (s->workers[w].pid > 0 && s->workers[w].alive) {
            kill(-s->workers[w].pid, SIGKILL); /* its process group: it and what it started */
            kill(s->workers[w].pid, SIGKILL);
        }
    }
    for (w = 0; s->workers != NULL && w < s->n_workers; w++) {
        if (s->workers[w].pid > 0 && s->workers[w].alive) {
            memset(&ru, 0, sizeof(ru));
            while (wait4(s->workers[w].pid, &status, 0, &ru) < 0 && errno == EINTR) {
            }
            runstats_worker_ended(s->run->stats, w + 1, &ru);
            s->workers[w].alive = 0;
        }
    }
}

/* Removes the job's part directory and whatever is left in it (after a failure). */
static void
remove_part_dir(struct scheduler *s)
{
    parts_release(&s->run->output.parts);
}

/* Waits for a worker whose pipe closed or whose pidfd fired: it has ended, or is ending. One
 * that is still running after about two seconds (a plugin closed the worker's pipes, say) is
 * killed, rather than waited for without end. */
static void
wait_worker(const struct worker *wk, int *status, struct rusage *ru)
{
    int i;

    for (i = 0; i < 200; i++) {
        pid_t r = wait4(wk->pid, status, WNOHANG, ru);
        if (r == wk->pid || (r < 0 && errno != EINTR)) {
            return;
        }
        if (r == 0) {
            usleep(10000);
        }
    }
    kill(-wk->pid, SIGKILL);
    kill(wk->pid, SIGKILL);
    while (wait4(wk->pid, status, 0, ru) < 0 && errno == EINTR) {
    }
}

/* A fresh worker in slot w, in the place of one that failed (its log goes on). */
static int
respawn(struct scheduler *s, int w, struct error *err)
{
    struct chain_progress *pr = &s->shared->progress[w];

    pr->partition = -1;
    pr->step = -1;
    pr->record_start = UINT64_MAX;
    s->workers[w].n_given = 0; /* (the reproduce line replays what one process did) */
    if (spawn(s, w, err) != 0) {
        return -1;
    }
    log_line(s->run->log_fd, "started worker %d again, pid %ld", w + 1, (long)s->workers[w].pid);
    return 0;
}

/* Puts partition k back, to run again in a fresh worker: what its failed attempt left is
 * removed (its output at the end of the temporary output, when it was the head; its part file;
 * its rejects). */
static int
run_again(struct scheduler *s, size_t k, struct error *err)
{
    struct output *out = &s->run->output;
    struct error ignored;

    if (k == s->turns.head && s->rewindable &&
        (ftruncate(out->fd, (off_t)s->head_offset) != 0 ||
         lseek(out->fd, (off_t)s->head_offset, SEEK_SET) < 0)) {
        return error_errno(err, "cannot cut partition %zu's output off %s", k, out->tmp_path);
    }
    if (out->parts.dir != NULL) {
        parts_remove(&out->parts, k, &ignored); /* (there may be none) */
    }
    if (s->run->job->on_error_skip) {
        rejects_forget(s->run->opt->log_dir, k);
    }
    return turns_again(&s->turns, k, err);
}

/* Why partition k cannot run again, or NULL when it can. */
static const char *
why_not_again(const struct scheduler *s, size_t k)
{
    if (k < s->run->planner.release_next) {
        return "its input was read from a stream, and is gone";
    }
    if (k == s->turns.head && !s->rewindable && s->turns.state[k] == PART_DONE) {
        return "part of its output may be written already, to an output that cannot be rewound";
    }
    return NULL;
}

/* The first line of a message, for a short reason. */
static void
first_line(char *buf, size_t size, const char *msg)
{
    size_t n = strcspn(msg, "\n");

    snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), msg);
}

/*
 * Partition k's attempt in worker w failed, as err says (at the record starting at byte
 * `record` in step `step`, when record >= 0). Decides what comes next: run it again (retries),
 * run the record alone (on_error: skip, retries spent), leave the record out (its probe failed
 * too), or fail the job. Returns 0 when the job goes on (worker w's next process does the rest),
 * -1 when it fails (err as it was, or saying why not).
 */
static int
partition_failed(struct scheduler *s, int w, size_t k, int64_t record, int step, struct error *err)
{
    struct worker *wk = &s->workers[w];
    const struct job *job = s->run->job;
    const char *why_not = why_not_again(s, k);
    char reason[512];

    first_line(reason, sizeof(reason), err->msg);
    if (wk->probing) {
        struct skip_record *sr;
        wk->probing = 0;
        if (why_not != NULL || GROW(s->skips, s->cap_skips, s->n_skips + 1) != 0) {
            return why_not != NULL ? error_prefix(err, "%s; partition %zu cannot run again (%s)",
                                                  wk->probe_reason, k, why_not)
                                   : error_set(err, "out of memory");
        }
        sr = &s->skips[s->n_skips++];
        sr->partition = k;
        sr->offset = wk->probe_offset;
        sr->step = step;
        snprintf(sr->reason, sizeof(sr->reason), "%s (and so did the record alone)",
                 wk->probe_reason);
        log_line(s->run->log_fd,
                 "partition %zu: the record at byte %" PRIu64 " failed alone too: it is left out, "
                 "and the partition runs again",
                 k, wk->probe_offset);
        return run_again(s, k, err);
    }
    if (why_not != NULL) {
        return job->retries > 0 || job->on_error_skip
                   ? error_prefix(err, "partition %zu cannot run again (%s)", k, why_not)
                   : -1;
    }
    if (s->attempts[k] <= job->retries) {
        log_line(s->run->log_fd, "partition %zu: attempt %d failed, it runs again: %s", k,
                 s->attempts[k], reason);
        runstats_partition_retried(s->run->stats, k, w + 1, reason);
        return run_again(s, k, err);
    }
    if (job->on_error_skip && record >= 0 && step >= 0) {
        free(wk->probe_reason);
        wk->probe_reason = strdup(reason);
        if (wk->probe_reason == NULL) {
            return error_set(err, "out of memory");
        }
        wk->pending_probe = 1;
        wk->probe_part = k;
        wk->probe_offset = (uint64_t)record;
        log_line(s->run->log_fd,
                 "partition %zu: the record at byte %" PRIu64 " runs alone in a fresh worker, "
                 "to see whether it is to blame: %s",
                 k, (uint64_t)record, reason);
        return 0;
    }
    if (job->retries > 0) {
        error_prefix(err, "after %d attempt%s", s->attempts[k], s->attempts[k] > 1 ? "s" : "");
    }
    return -1;
}

/* Worker w died unexpectedly (status from wait4). The job goes on when what it was running can
 * run again (partition_failed), in a fresh worker in its place. */
static int
died(struct scheduler *s, int w, int status, struct error *err)
{
    struct worker *wk = &s->workers[w];
    const struct chain_progress *pr = &s->shared->progress[w];
    int64_t k = wk->assigned, record = -1;
    int step = pr->step, timed_out = wk->timed_out;

    if (pr->partition == k && k >= 0 && pr->record_start != UINT64_MAX) {
        record = (int64_t)pr->record_start;
    }
    death_failure(s, w, status, err);
    if (k >= 0 && partition_failed(s, w, (size_t)k, record, step, err) == 0) {
        return respawn(s, w, err);
    }
    if (k < 0 && !wk->stopping && s->run->job->retries > 0 && pr->step < 0) {
        /* Between partitions (killed by the OOM killer as it asked for work, say): no partition
         * is lost; a fresh worker takes its place. */
        log_line(s->run->log_fd, "%s; a fresh worker takes its place", err->msg);
        return respawn(s, w, err);
    }
    s->timed_out = timed_out != 0;
    return -1;
}

/* Collects a worker whose pipe closed. Fine only after STOP and a clean exit; otherwise the job
 * fails with how it died and where, unless what it ran can run again. */
static int
reap(struct scheduler *s, int w, struct error *err)
{
    struct worker *wk = &s->workers[w];
    struct rusage ru;
    int status = 0;

    memset(&ru, 0, sizeof(ru));
    wait_worker(wk, &status, &ru);
    runstats_worker_ended(s->run->stats, w + 1, &ru);
    kill(-wk->pid, SIGKILL); /* what a plugin started in the worker goes with it */
    wk->alive = 0;
    close(wk->report_fd);
    close(wk->cmd_fd);
    if (wk->pidfd >= 0) {
        close(wk->pidfd);
    }
    wk->report_fd = wk->cmd_fd = wk->pidfd = -1;
    if (wk->stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    if (wk->retiring) {
        return respawn(s, w, err); /* (its partition was put back, or is being probed) */
    }
    return died(s, w, status, err);
}

static int collect_exited(struct scheduler *s, int w, struct error *err);

/* Gives worker w work (or STOP), and when it cannot hear it (it died), collects it: what it
 * reported before it died first (its failure, say), then how it ended. */
static int
assign_or_reap(struct scheduler *s, int w, struct error *err)
{
    if (assign(s, w) == 0) {
        return 0;
    }
    s->workers[w].stopping = 0; /* whatever it was told, it did not hear it */
    return collect_exited(s, w, err);
}

/* Sends GRANT of partition k to worker w, and when it cannot hear it (it died), reaps it. */
static int
grant_or_reap(struct scheduler *s, int w, size_t k, struct error *err)
{
    if (send_command(s, &s->workers[w], CMD_GRANT, k) == 0) {
        return 0;
    }
    s->workers[w].stopping = 0;
    return collect_exited(s, w, err);
}

/* Hands work to the workers waiting for it. */
static int
wake_idle(struct scheduler *s, struct error *err)
{
    int w;

    for (w = 0; w < s->n_workers; w++) {
        if (s->workers[w].idle && assign_or_reap(s, w, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* The head has just moved on (turns_written, turns_wrote_parked): every partition before it is
 * written, and its worker cannot have written yet (the head is published after this), so where
 * the output ends now is where the head's output begins: where a failed head is cut back to. */
static int
note_head_offset(struct scheduler *s, struct error *err)
{
    off_t at;

    if (!s->rewindable) {
        return 0;
    }
    at = lseek(s->run->output.fd, 0, SEEK_CUR);
    if (at < 0) {
        return error_errno(err, "cannot tell where %s ends", s->run->output.tmp_path);
    }
    s->head_offset = (uint64_t)at;
    if (s->turns.head > 0) {
        s->run->out_end[s->turns.head - 1] = s->head_offset;
    }
    return 0;
}

/* The turn has moved on: parked partitions the parent writes itself, from their part files; a
 * partition already done is granted its turn. Then idle workers get work again. */
static int
advance(struct scheduler *s, struct error *err)
{
    enum turn_step step;
    size_t who;

    while ((step = turns_advance(&s->turns, live(s)->n_parts, &who)) == TURN_WRITE_PARKED) {
        if (output_append_part(&s->run->output, who, err) != 0) {
            return -1;
        }
        turns_wrote_parked(&s->turns);
        runstats_partition_written(s->run->stats, who);
        if (note_head_offset(s, err) != 0) {
            return -1;
        }
    }
    __atomic_store_n(&s->shared->head, (uint64_t)s->turns.head, __ATOMIC_RELEASE);
    if (step == TURN_GRANT && grant_or_reap(s, (int)who, s->turns.head, err) != 0) {
        return -1;
    }
    return wake_idle(s, err);
}

/* A partition's records count once it is written or parked. More records left out than
 * max_skipped allows fails the job. */
static int
count(struct scheduler *s, int w, const struct report *rep, struct error *err)
{
    const struct job *job = s->run->job;

    s->run->records_in += rep->stats.records_in;
    s->run->records_out += rep->stats.records_out;
    s->run->skipped += rep->stats.skipped;
    runstats_partition_done(s->run->stats, rep->partition, w + 1, &rep->stats, rep->stats.skipped);
    if (s->run->skipped > job->max_skipped) {
        return error_set(err,
                         "%" PRIu64 " records were left out (on_error: skip), more than "
                         "max_skipped (%" PRIu64 "); they are listed in %s/rejects.tsv",
                         s->run->skipped, job->max_skipped, s->run->opt->log_dir);
    }
    return 0;
}

/* Handles one report from worker w. Returns 0 to go on, -1 on job failure. */
static int
handle(struct scheduler *s, int w, const struct report *rep, struct error *err)
{
    struct worker *wk = &s->workers[w];
    int due;

    switch (rep->kind) {
    case REPORT_READY:
        if (wk->pending_probe) {
            wk->pending_probe = 0;
            wk->probing = 1;
            wk->assigned = (int64_t)wk->probe_part;
            wk->assigned_ms = wk->seen_ms = clock_now_ns() / 1000000u;
            wk->seen_records = UINT64_MAX;
            if (send_command(s, wk, CMD_PROBE, wk->probe_part) != 0) {
                return collect_exited(s, w, err);
            }
            return 0;
        }
        return assign_or_reap(s, w, err);
    case REPORT_PROBED:
        wk->probing = 0;
        if (s->run->job->on_error_skip) {
            rejects_forget(s->run->opt->log_dir, wk->probe_part); /* (never written) */
        }
        return error_set(err,
                         "%s\n  run alone in a fresh worker, the record at byte %" PRIu64
                         " of partition %zu did not fail: it was not left out, as the failure "
                         "may not be its own",
                         wk->probe_reason, wk->probe_offset, wk->probe_part);
    case REPORT_DONE:
        if (turns_done(&s->turns, rep->partition)) {
            return grant_or_reap(s, w, rep->partition, err);
        }
        return 0;
    case REPORT_WRITTEN:
        if (turns_written(&s->turns, rep->partition, err) != 0) {
            return error_prefix(err, "worker %d", w + 1);
        }
        if (note_head_offset(s, err) != 0 || count(s, w, rep, err) != 0) {
            return -1;
        }
        runstats_partition_written(s->run->stats, rep->partition);
        s->spilled += rep->spilled != 0;
        if (assign_or_reap(s, w, err) != 0) {
            return -1;
        }
        return advance(s, err);
    case REPORT_PARKED:
        /* Its output is in its part file; the parent writes it when its turn comes (now, if it
         * has come: a GRANT sent meanwhile is ignored by the worker). */
        if (count(s, w, rep, err) != 0) {
            return -1;
        }
        due = turns_parked(&s->turns, rep->partition);
        if (assign_or_reap(s, w, err) != 0) {
            return -1;
        }
        return due ? advance(s, err) : 0;
    case REPORT_FAILED:
        s->run->output.broken_pipe |= rep->broken_pipe;
        report_failure(s, w, rep, err);
        /* A step's error in a partition may go away in a fresh worker (retries); the worker
         * ends itself after this report. */
        if (rep->partition != UINT64_MAX && rep->step >= 0 && !rep->broken_pipe &&
            (int64_t)rep->partition == wk->assigned &&
            partition_failed(s, w, rep->partition, -1, rep->step, err) == 0) {
            wk->retiring = 1;
            return 0;
        }
        return -1;
    default:
        return error_set(err, "worker %d sent a report of unknown kind %" PRIu32, w + 1, rep->kind);
    }
}

/* Reads one report or EOF from worker w. Returns 0 to go on, -1 on job failure. */
static int
service(struct scheduler *s, int w, struct error *err)
{
    struct worker *wk = &s->workers[w];
    struct report rep;

    if (io_read_full(wk->report_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep)) {
        return reap(s, w, err);
    }
    if ((rep.kind == REPORT_DONE || rep.kind == REPORT_WRITTEN || rep.kind == REPORT_PARKED ||
         rep.kind == REPORT_PROBED) &&
        (int64_t)rep.partition != wk->assigned) {
        return error_set(err, "worker %d reported partition %" PRIu64 " but was given %" PRId64,
                         w + 1, rep.partition, wk->assigned);
    }
    return handle(s, w, &rep, err);
}

/* Frees the ring behind every partition no worker reads any more. */
static void
release_ring(struct scheduler *s)
{
    size_t k = s->run->planner.release_next;

    while (k < live(s)->n_parts && turns_settled(&s->turns, k)) {
        k++;
    }
    planner_release(&s->run->planner, k);
}

/* A stream being decoded: decodes a little and hands out what it completed. Sets *decoding when
 * there is more to decode now (the caller then only looks at the workers, without waiting). */
static int
decode_some(struct scheduler *s, int *decoding, struct error *err)
{
    *decoding = planner_decoding(&s->run->planner);
    if (!*decoding) {
        return 0;
    }
    if (planner_more(&s->run->planner, PLANNER_DECODE_BUDGET, err) != 0 || track(s, err) != 0 ||
        wake_idle(s, err) != 0) {
        return -1;
    }
    *decoding = planner_decoding(&s->run->planner);
    return 0;
}

/* Whether worker w has a report (or EOF) waiting, without waiting for one. */
static int
report_waiting(const struct worker *wk)
{
    struct pollfd pfd = {wk->report_fd, POLLIN, 0};

    return poll(&pfd, 1, 0) > 0;
}

/* Worker w has exited (its pidfd says so, or it cannot hear commands), though its report pipe may
 * still be open (a process it started holds the write end). Reads what it reported before it
 * ended, then collects it; the pipe is not waited on. */
static int
collect_exited(struct scheduler *s, int w, struct error *err)
{
    pid_t pid = s->workers[w].pid;

    while (s->workers[w].alive && s->workers[w].pid == pid && report_waiting(&s->workers[w])) {
        if (service(s, w, err) != 0) {
            return -1;
        }
    }
    if (s->workers[w].alive && s->workers[w].pid == pid) {
        return reap(s, w, err);
    }
    return 0; /* (collected, and perhaps followed by a fresh worker in its place) */
}

/* The poll set: each live worker's report pipe, and its pidfd; which[k] is the worker of fds[k],
 * pids[k] its process then (a worker's slot may get a fresh process, whose descriptors may
 * have the numbers the old one's had, while the set is handled). */
static int
poll_set(const struct scheduler *s, struct pollfd *fds, int *which, pid_t *pids)
{
    int n = 0, w;

    for (w = 0; w < s->n_workers; w++) {
        if (!s->workers[w].alive) {
            continue;
        }
        fds[n].fd = s->workers[w].report_fd;
        fds[n].events = POLLIN;
        pids[n] = s->workers[w].pid;
        which[n++] = w;
        if (s->workers[w].pidfd >= 0) {
            fds[n].fd = s->workers[w].pidfd;
            fds[n].events = POLLIN;
            pids[n] = s->workers[w].pid;
            which[n++] = w;
        }
    }
    return n;
}

/* Handles what the poll found: reports first, then workers that exited without closing their
 * pipe. */
static int
handle_ready(struct scheduler *s, const struct pollfd *fds, const int *which, const pid_t *pids,
             int n, struct error *err)
{
    int k, w;

    for (k = 0; k < n; k++) {
        w = which[k];
        if (fds[k].revents != 0 && pids[k] == s->workers[w].pid &&
            fds[k].fd == s->workers[w].report_fd && s->workers[w].alive &&
            service(s, w, err) != 0) {
            return -1;
        }
    }
    for (k = 0; k < n; k++) {
        w = which[k];
        if (fds[k].revents != 0 && pids[k] == s->workers[w].pid &&
            fds[k].fd == s->workers[w].pidfd && s->workers[w].alive &&
            collect_exited(s, w, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Kills the workers that ran past partition_timeout, or spent longer than record_timeout on
 * one record in a step: their death is then handled as any other (died()). */
static void
check_timeouts(struct scheduler *s)
{
    const struct job *job = s->run->job;
    uint64_t now;
    int w;

    if (job->partition_timeout_ms == 0 && job->record_timeout_ms == 0) {
        return;
    }
    now = clock_now_ns() / 1000000u;
    for (w = 0; w < s->n_workers; w++) {
        struct worker *wk = &s->workers[w];
        const struct chain_progress *pr = &s->shared->progress[w];
        uint64_t records = pr->record_start; /* (a new record starts further on) */

        if (!wk->alive || wk->assigned < 0 || wk->timed_out || wk->retiring ||
            (!wk->probing && s->turns.state[wk->assigned] != PART_RUNNING) || report_waiting(wk)) {
            continue; /* (a partition that is done and waits for its turn is not late, nor one
                       * whose worker said so in a report not read yet) */
        }
        if (records != wk->seen_records) {
            wk->seen_records = records;
            wk->seen_ms = now;
        }
        if (job->partition_timeout_ms > 0 && now - wk->assigned_ms > job->partition_timeout_ms) {
            wk->timed_out = 1;
        } else if (job->record_timeout_ms > 0 && pr->step >= 0 && pr->record_start != UINT64_MAX &&
                   now - wk->seen_ms > job->record_timeout_ms) {
            wk->timed_out = 2;
        }
        if (wk->timed_out) {
            log_line(s->run->log_fd,
                     "worker %d (pid %ld) ran past its %s in partition %" PRId64 ": killed", w + 1,
                     (long)wk->pid, wk->timed_out == 1 ? "partition_timeout" : "record_timeout",
                     wk->assigned);
            kill(-wk->pid, SIGKILL);
            kill(wk->pid, SIGKILL);
        }
    }
}

/* How long the loop may wait before check_timeouts is due (ms), or -1. */
static int
timeout_poll_ms(const struct scheduler *s)
{
    const struct job *job = s->run->job;
    uint64_t least = job->partition_timeout_ms;

    if (job->record_timeout_ms > 0 && (least == 0 || job->record_timeout_ms < least)) {
        least = job->record_timeout_ms;
    }
    if (least == 0) {
        return -1;
    }
    return least / 4 < 10 ? 10 : least / 4 > 250 ? 250 : (int)(least / 4);
}

/* Waits for reports (or only looks, when decoding) and handles them. Sets *none when no worker
 * is left. */
static int
wait_and_service(struct scheduler *s, struct pollfd *fds, int *which, pid_t *pids, int decoding,
                 int *none, struct error *err)
{
    static const struct timespec no_wait = {0, 0};
    int n = poll_set(s, fds, which, pids), ready, tick_ms = runstats_tick_ms(s->run->stats);
    int check_ms = timeout_poll_ms(s);
    struct timespec tick;

    if (check_ms >= 0 && (tick_ms < 0 || check_ms < tick_ms)) {
        tick_ms = check_ms;
    }
    tick = (struct timespec){tick_ms / 1000, (long)(tick_ms % 1000) * 1000000L};
    *none = n == 0;
    if (n == 0) {
        return 0;
    }
    ready = ppoll(fds, (nfds_t)n, decoding ? &no_wait : tick_ms >= 0 ? &tick : NULL, &s->old_mask);
    runstats_tick(s->run->stats);
    if (signals_caught) {
        return error_set(err, "interrupted by signal SIG%s", signals_name((int)signals_caught));
    }
    if (ready < 0) {
        return errno == EINTR ? 0 : error_errno(err, "ppoll");
    }
    if (handle_ready(s, fds, which, pids, n, err) != 0) {
        return -1;
    }
    check_timeouts(s);
    return 0;
}

static int
event_loop(struct scheduler *s, struct error *err)
{
    struct pollfd *fds = calloc(2 * (size_t)s->n_workers, sizeof(*fds));
    int *which = calloc(2 * (size_t)s->n_workers, sizeof(*which));
    pid_t *pids = calloc(2 * (size_t)s->n_workers, sizeof(*pids));
    int rc = -1, decoding, none = 0;

    if (fds == NULL || which == NULL || pids == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    while (!none) {
        if (decode_some(s, &decoding, err) != 0 ||
            wait_and_service(s, fds, which, pids, decoding, &none, err) != 0) {
            goto out;
        }
        release_ring(s);
    }
    if (live(s)->n_parts > 0 && s->turns.head < live(s)->n_parts) {
        error_set(err, "internal error: the workers stopped before the last partition was written");
        goto out;
    }
    rc = 0;
out:
    free(fds);
    free(which);
    free(pids);
    return rc;
}

/* Makes the job's part directory (parts.h), before the workers are forked: they inherit it
 * with the output. A fresh private directory for each job, beside the output or in $TMPDIR. */
static int
name_part_dir(struct scheduler *s, struct error *err)
{
    return output_parts_init(&s->run->output, err);
}

/* The workers' table, their shared memory and their logs. */
static int
make_workers(struct scheduler *s, struct error *err)
{
    const char *log_dir = s->run->opt->log_dir;
    char name[64];
    int w, fd;

    s->workers = calloc((size_t)s->n_workers, sizeof(*s->workers));
    for (w = 0; s->workers != NULL && w < s->n_workers; w++) {
        s->workers[w].report_fd = s->workers[w].cmd_fd = s->workers[w].pidfd = -1;
    }
    s->shared_size = sizeof(*s->shared) + (size_t)s->n_workers * sizeof(struct chain_progress);
    s->shared =
        mmap(NULL, s->shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s->shared == MAP_FAILED) {
        s->shared = NULL;
    }
    if (s->workers == NULL || s->shared == NULL) {
        return error_set(err, "out of memory");
    }
    for (w = 0; w < s->n_workers; w++) {
        s->shared->progress[w].partition = -1;
        s->shared->progress[w].step = -1;
    }
    for (w = 0; w < s->n_workers; w++) {
        snprintf(name, sizeof(name), "worker-%d.log", w + 1);
        /* Each worker opens its own log (the parent holds two descriptors per worker); it is
         * made here first, so that a log that cannot be (a planted link, say) stops the job
         * before anything runs. */
        if (asprintf(&s->workers[w].log_path, "%s/%s", log_dir, name) < 0) {
            s->workers[w].log_path = NULL;
            return error_set(err, "out of memory");
        }
        if (log_open(log_dir, name, &fd, err) != 0) {
            return ERR_INVALID;
        }
        close(fd);
    }
    return 0;
}

static void
free_workers(struct scheduler *s)
{
    int w;

    for (w = 0; s->workers != NULL && w < s->n_workers; w++) {
        if (s->workers[w].report_fd >= 0) {
            close(s->workers[w].report_fd);
        }
        if (s->workers[w].cmd_fd >= 0) {
            close(s->workers[w].cmd_fd);
        }
        if (s->workers[w].pidfd >= 0) {
            close(s->workers[w].pidfd);
        }
        free(s->workers[w].log_path);
        free(s->workers[w].given);
        free(s->workers[w].probe_reason);
    }
    free(s->workers);
    free(s->attempts);
    free(s->skips);
    if (s->shared != NULL) {
        munmap(s->shared, s->shared_size);
    }
}

/* The summary lines of a job that succeeded. */
static void
log_summary(const struct scheduler *s)
{
    int log_fd = s->run->log_fd;

    if (s->turns.parked_total > 0) {
        log_line(log_fd,
                 "%zu partition(s) parked in a part file on disk while an earlier one was still "
                 "running",
                 s->turns.parked_total);
    }
    if (s->spilled > 0) {
        log_line(log_fd,
                 "%zu partition(s) went through a part file on disk (their output passed %" PRIu64
                 " %s before their turn)",
                 s->spilled, s->spill_after >= (1u << 20) ? s->spill_after >> 20 : s->spill_after,
                 s->spill_after >= (1u << 20) ? "MiB" : "bytes");
    }
}

/* A resumed run starts after the partitions the interrupted run wrote (resume.h): they are
 * counted as they were, and the output goes on after theirs. */
static int
start_resumed(struct scheduler *s, struct error *err)
{
    const struct resume *rs = s->run->resume;
    struct partition_stats st;
    size_t k;

    if (rs == NULL || rs->done == 0) {
        return 0;
    }
    if (s->run->planner.planned_all && rs->done > live(s)->n_parts) {
        return error_set(err,
                         "cannot resume: %zu partitions are done, but the job has only %zu; run "
                         "without --resume to start afresh",
                         rs->done, live(s)->n_parts);
    }
    turns_start_at(&s->turns, rs->done);
    __atomic_store_n(&s->shared->head, (uint64_t)rs->done, __ATOMIC_RELEASE);
    s->head_offset = rs->out_len;
    for (k = 0; k < rs->done; k++) {
        const struct resume_part *p = &rs->parts[k];
        memset(&st, 0, sizeof(st));
        st.records_in = p->records_in;
        st.records_out = p->records_out;
        st.bytes_in = p->bytes_in;
        st.bytes_out = p->bytes_out;
        st.skipped = p->skipped;
        s->run->records_in += p->records_in;
        s->run->records_out += p->records_out;
        s->run->skipped += p->skipped;
        runstats_partition_resumed(s->run->stats, k, &st, p->skipped);
    }
    log_line(s->run->log_fd,
             "resumed: partitions 0-%zu were written by the interrupted run (%" PRIu64
             " bytes of output)",
             rs->done - 1, rs->out_len);
    return 0;
}

/* Forks the workers. */
static int
start_workers(struct scheduler *s, struct error *err)
{
    int w;

    if (make_workers(s, err) != 0 || start_resumed(s, err) != 0 || track(s, err) != 0) {
        return -1;
    }
    if (name_part_dir(s, err) != 0) {
        /* No part directory (an unusable $TMPDIR for -o -): the job runs without part files,
         * each finished partition's output kept in memory until its turn. */
        log_line(s->run->log_fd, "no part directory (%s): partitions wait for their turn in memory",
                 err->msg);
        s->spill_after = UINT64_MAX;
        s->park_after_ms = UINT64_MAX;
    }
    for (w = 0; w < s->n_workers; w++) {
        if (spawn(s, w, err) != 0) {
            return -1;
        }
        log_line(s->run->log_fd, "started worker %d, pid %ld, log %s", w + 1,
                 (long)s->workers[w].pid, s->workers[w].log_path);
    }
    return 0;
}

int
scheduler_run(struct run *r, const sigset_t *old_mask, struct error *err)
{
    struct scheduler s;
    int rc = ERR_INVALID;

    memset(&s, 0, sizeof(s));
    s.run = r;
    s.parent = getpid();
    s.old_mask = *old_mask;
    s.spill_after = test_knob("TRANCHE_TEST_SPILL_AFTER", WORKER_SPILL_AFTER);
    s.park_after_ms = test_knob("TRANCHE_TEST_PARK_AFTER_MS", WORKER_PARK_AFTER_MS);
    s.n_workers = r->opt->workers;
    s.rewindable = r->output.tmp_path != NULL;
    if (r->planner.planned_all && (size_t)s.n_workers > r->planner.live.n_parts) {
        s.n_workers = (int)r->planner.live.n_parts;
    }
    turns_init(&s.turns, 2 * (size_t)s.n_workers + 2);
    if (start_workers(&s, err) == 0) {
        rc = event_loop(&s, err) == 0 ? 0 : s.timed_out ? ERR_TIMEOUT : ERR_FAILED;
    }
    if (rc == 0) {
        log_summary(&s);
    }
    /* What is written for sure: the partitions before the head, and the output up to where the
     * head's begins (resume.h keeps them after a failure). */
    r->written = s.turns.head;
    r->written_bytes = s.head_offset;
    stop_all(&s);
    free_workers(&s);
    remove_part_dir(&s);
    turns_release(&s.turns);
    return rc;
}
