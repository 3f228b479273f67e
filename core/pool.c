/*
 * core/pool.c: the forked worker pool and the ordered merge.
 *
 * Protocol: each worker has a report pipe (worker -> parent) and a command pipe (parent ->
 * worker). A worker says READY after its steps' init, then gets one partition at a time and
 * answers DONE or FAILED with a fixed-size report (smaller than PIPE_BUF, so each write is
 * atomic).
 *
 * Part files live in memory: each worker owns SLOTS memory files (memfd), created by the parent
 * before fork. A partition's output goes into a free slot of its worker; the parent appends it to
 * the output with sendfile as soon as every earlier partition is in, and the slot is free again.
 * Writing a part to disk and copying it again costs about twice the write path; a memory part is
 * written once. A worker with no free slot waits: at most SLOTS unmerged partitions per worker, so
 * memory stays bounded, and a part that grows past SPILL_AFTER continues in a part file on disk
 * beside the output. The parent learns of a death from EOF on the report pipe and waitpid(), never by
 * waiting forever; a worker never runs the parent's error paths, it reports and _exit()s.
 * Shared memory per worker says which partition, step and record it was in, for crash reports.
 */
#include "pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "merge.h"
#include "worker.h"

enum report_kind { REPORT_READY = 1, REPORT_DONE = 2, REPORT_FAILED = 3 };

#define SLOTS 3
#define SPILL_AFTER (64ull << 20)
#define SLOT_KEEP (32ull << 20) /* a slot that held more is truncated after the merge */

#define CMD_STOP UINT64_MAX

struct command {
    uint64_t partition; /* or CMD_STOP */
    uint32_t slot;
    uint32_t unused;
};

struct report {
    uint32_t kind;
    int32_t step;       /* FAILED: the step, or -1 for I/O */
    uint64_t partition; /* DONE/FAILED; UINT64_MAX when failing in init */
    struct partition_stats stats;
    char msg[2048];
};

_Static_assert(sizeof(struct report) < PIPE_BUF, "a report must be written atomically");

struct worker {
    pid_t pid;
    int report_fd; /* parent's read end */
    int cmd_fd;    /* parent's write end */
    int log_fd;
    char *log_path;
    int64_t assigned; /* partition index, or -1 */
    int stopping;     /* sent CMD_STOP */
    int waiting;      /* ready for work, but every slot holds an unmerged part */
    int alive;
    int slot_fd[SLOTS];
    int64_t slot_part[SLOTS]; /* the partition whose output is in the slot, or -1 */
};

struct pool {
    const struct job *job;
    const struct step *steps;
    const struct plan *plan;
    const struct pool_inputs *inputs;
    const struct pool_options *opt;
    struct worker *workers;
    int n_workers;
    struct worker_progress *progress; /* shared mapping, one per worker */
    char *part_dir;
    int log_fd;
    size_t next;   /* next partition to hand out */
    size_t merged; /* partitions 0..merged-1 are in the output */
    unsigned char *done;
    struct partition_stats *stats; /* per partition, from its DONE report */
    int *part_worker;              /* per partition: the worker, and its slot */
    int *part_slot;
    struct merge merge;
    uint64_t records_in, records_out;
    sigset_t old_mask; /* the signal mask to restore, and to wait with */
};

/*
 * SIGINT, SIGTERM and SIGHUP stop the job cleanly (workers killed, nothing left behind). While
 * workers run they are blocked except inside ppoll(), so one cannot slip in between the check
 * and the wait; the in-process mode checks the flag between read buffers.
 */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    interrupted = sig;
}

static void
stop_signal_set(sigset_t *set)
{
    size_t i;

    sigemptyset(set);
    for (i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
        sigaddset(set, stop_signals[i]);
    }
}

static void
part_path(const struct pool *pl, size_t index, char *buf, size_t size)
{
    snprintf(buf, size, "%s/part-%06zu", pl->part_dir, index);
}

static void
slot_name(size_t index, char *buf, size_t size)
{
    snprintf(buf, size, "the in-memory part file of partition %zu", index);
}

static int
write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
read_all(int fd, void *data, size_t len)
{
    char *p = data;

    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n == 0 ? 1 : -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static const char *
input_path(const struct pool *pl, const struct partition *p)
{
    return pl->inputs->paths[p->file];
}

static void
describe_partition(const struct pool *pl, const struct partition *p, char *buf, size_t size)
{
    snprintf(buf, size, "partition %zu (bytes %" PRIu64 "-%" PRIu64 " of %s)", p->index, p->start,
             p->end, input_path(pl, p));
}

/* The body of a forked worker. Never returns, never touches the parent's cleanup. */
static void __attribute__((noreturn))
worker_main(struct pool *pl, int w)
{
    struct worker *me = &pl->workers[w];
    struct worker_progress *progress = &pl->progress[w];
    struct chain *chain = NULL;
    struct report rep;
    struct error err;
    int failed_step, i, k, report_fd = me->report_fd, cmd_fd = me->cmd_fd;
    struct command cmd;
    struct chain_output out;
    char path[PATH_MAX + 32], name[96];

    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &pl->old_mask, NULL);
    /* Only this worker's own descriptors stay open. */
    close(pl->log_fd);
    if (pl->merge.tmp_path != NULL) {
        close(pl->merge.fd);
    }
    for (i = 0; i < pl->n_workers; i++) {
        if (i != w && pl->workers[i].log_fd >= 0) {
            close(pl->workers[i].log_fd);
        }
        if (i != w && pl->workers[i].pid > 0) {
            close(pl->workers[i].report_fd);
            close(pl->workers[i].cmd_fd);
        }
        for (k = 0; i != w && k < SLOTS; k++) {
            close(pl->workers[i].slot_fd[k]);
        }
    }
    /* Whatever a plugin prints goes to this worker's log, never to the job's output. */
    dup2(me->log_fd, STDOUT_FILENO);
    dup2(me->log_fd, STDERR_FILENO);
    memset(&rep, 0, sizeof(rep));
    if (chain_new(pl->steps, pl->job->n_steps, pl->job->delimiter, w + 1, me->log_fd, progress,
                  &chain, &failed_step, &err) != 0) {
        rep.kind = REPORT_FAILED;
        rep.step = failed_step;
        rep.partition = UINT64_MAX;
        snprintf(rep.msg, sizeof(rep.msg), "%s", err.msg);
        log_line(me->log_fd, "worker %d: init failed: %s", w + 1, err.msg);
        write_all(report_fd, &rep, sizeof(rep));
        _exit(1);
    }
    log_line(me->log_fd, "worker %d (pid %ld) started", w + 1, (long)getpid());
    rep.kind = REPORT_READY;
    if (write_all(report_fd, &rep, sizeof(rep)) != 0) {
        _exit(1);
    }
    while (read_all(cmd_fd, &cmd, sizeof(cmd)) == 0 && cmd.partition != CMD_STOP) {
        const struct partition *p = &pl->plan->parts[cmd.partition];
        int rc;

        memset(&rep, 0, sizeof(rep));
        rep.partition = cmd.partition;
        part_path(pl, (size_t)cmd.partition, path, sizeof(path));
        slot_name((size_t)cmd.partition, name, sizeof(name));
        out.fd = me->slot_fd[cmd.slot];
        out.name = name;
        out.spill_after = SPILL_AFTER;
        out.spill_path = path;
        if (lseek(out.fd, 0, SEEK_SET) != 0) {
            rc = error_errno(&err, "cannot rewind %s", name);
            failed_step = -1;
        } else {
            rc = chain_run(chain, p, pl->inputs->fds[p->file], input_path(pl, p), &out,
                           &rep.stats, &failed_step, &err);
        }
        if (rc != 0) {
            rep.kind = REPORT_FAILED;
            rep.step = failed_step;
            snprintf(rep.msg, sizeof(rep.msg), "%s", err.msg);
            log_line(me->log_fd, "worker %d: partition %" PRIu64 " [%" PRIu64 ", %" PRIu64
                     ") failed in %s: %s", w + 1, cmd.partition, p->start, p->end,
                     failed_step >= 0 ? pl->steps[failed_step].label : "I/O", err.msg);
            chain_free(chain); /* fini runs after a failure too, as plugin.h promises */
            write_all(report_fd, &rep, sizeof(rep));
            _exit(1);
        }
        log_line(me->log_fd,
                 "worker %d: partition %" PRIu64 " [%" PRIu64 ", %" PRIu64 ") of %s: records in %"
                 PRIu64 ", out %" PRIu64 ", %" PRIu64 " bytes out%s, %.3fs",
                 w + 1, cmd.partition, p->start, p->end, input_path(pl, p), rep.stats.records_in,
                 rep.stats.records_out, rep.stats.bytes_out,
                 rep.stats.spilled ? " (spilled to disk)" : "", rep.stats.nanos / 1e9);
        rep.kind = REPORT_DONE;
        if (write_all(report_fd, &rep, sizeof(rep)) != 0) {
            _exit(1);
        }
    }
    chain_free(chain);
    log_line(me->log_fd, "worker %d finished", w + 1);
    _exit(0);
}

static int
spawn(struct pool *pl, int w, struct error *err)
{
    struct worker *wk = &pl->workers[w];
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
        wk->report_fd = rep[1];
        wk->cmd_fd = cmd[0];
        worker_main(pl, w);
    }
    close(rep[1]);
    close(cmd[0]);
    wk->pid = pid;
    wk->report_fd = rep[0];
    wk->cmd_fd = cmd[1];
    wk->alive = 1;
    wk->assigned = -1;
    return 0;
}

/* Gives a worker its next partition and a free slot, STOP when there is none left, or parks it
 * until one of its slots is merged. */
static int
assign(struct pool *pl, struct worker *wk)
{
    struct command cmd;
    int k, slot = -1;

    memset(&cmd, 0, sizeof(cmd));
    wk->waiting = 0;
    wk->assigned = -1;
    for (k = 0; k < SLOTS && slot < 0; k++) {
        if (wk->slot_part[k] < 0) {
            slot = k;
        }
    }
    if (pl->next >= pl->plan->n_parts) {
        cmd.partition = CMD_STOP;
        wk->stopping = 1;
    } else if (slot < 0) {
        wk->waiting = 1;
        return 0;
    } else {
        cmd.partition = pl->next++;
        cmd.slot = (uint32_t)slot;
        wk->assigned = (int64_t)cmd.partition;
        wk->slot_part[slot] = (int64_t)cmd.partition;
        pl->part_worker[cmd.partition] = (int)(wk - pl->workers);
        pl->part_slot[cmd.partition] = slot;
    }
    return write_all(wk->cmd_fd, &cmd, sizeof(cmd));
}

/* Appends every finished partition that follows the merged ones, in order, freeing slots. */
static int
merge_ready(struct pool *pl, struct error *err)
{
    char path[PATH_MAX + 32], name[96];

    while (pl->merged < pl->plan->n_parts && pl->done[pl->merged]) {
        size_t k = pl->merged;
        struct worker *wk = &pl->workers[pl->part_worker[k]];
        int slot = pl->part_slot[k];

        slot_name(k, name, sizeof(name));
        if (merge_append_fd(&pl->merge, wk->slot_fd[slot], pl->stats[k].bytes_first, name,
                            err) != 0) {
            return -1;
        }
        if (pl->stats[k].spilled) {
            part_path(pl, k, path, sizeof(path));
            if (merge_append(&pl->merge, path, err) != 0) {
                return -1;
            }
        }
        if (pl->stats[k].bytes_first > SLOT_KEEP && ftruncate(wk->slot_fd[slot], 0) != 0) {
            return error_errno(err, "cannot truncate %s", name);
        }
        wk->slot_part[slot] = -1;
        pl->merged++;
    }
    return 0;
}

static void
describe_status(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);
        snprintf(buf, size, "killed by signal SIG%s (%s)%s", abbrev != NULL ? abbrev : "?",
                 strsignal(sig), WCOREDUMP(status) ? ", core dumped" : "");
    } else if (WIFEXITED(status)) {
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(buf, size, "stopped unexpectedly (status %#x)", status);
    }
}

/* Builds the message for a worker that reported FAILED. */
static void
report_failure(struct pool *pl, int w, const struct report *rep, struct error *err)
{
    char where[PATH_MAX + 128];
    const char *step = rep->step >= 0 ? pl->steps[rep->step].label : NULL;

    if (rep->partition == UINT64_MAX) {
        error_set(err, "%s failed to start in worker %d: %s\n  worker log: %s",
                  step != NULL ? step : "a step", w + 1, rep->msg, pl->workers[w].log_path);
        return;
    }
    describe_partition(pl, &pl->plan->parts[rep->partition], where, sizeof(where));
    if (step != NULL) {
        error_set(err, "%s failed in %s: %s\n  worker %d's log: %s", where, step, rep->msg, w + 1,
                  pl->workers[w].log_path);
    } else {
        error_set(err, "%s failed: %s\n  worker %d's log: %s", where, rep->msg, w + 1,
                  pl->workers[w].log_path);
    }
}

/* Builds the message for a worker that died without reporting. */
static void
death_failure(struct pool *pl, int w, int status, struct error *err)
{
    const struct worker_progress *pr = &pl->progress[w];
    char how[256], where[PATH_MAX + 128];
    int32_t step = pr->step;
    int64_t part = pr->partition;

    describe_status(status, how, sizeof(how));
    if (part >= 0 && (size_t)part < pl->plan->n_parts) {
        describe_partition(pl, &pl->plan->parts[part], where, sizeof(where));
        error_set(err,
                  "worker %d (pid %ld) %s in %s, %s, at the record starting at byte %" PRIu64
                  "\n  worker %d's log: %s",
                  w + 1, (long)pl->workers[w].pid, how, where,
                  step >= 0 ? pl->steps[step].label : "outside any step", pr->record_start,
                  w + 1, pl->workers[w].log_path);
    } else if (step >= 0) {
        error_set(err, "worker %d (pid %ld) %s in %s, outside any partition (init or fini)"
                  "\n  worker %d's log: %s", w + 1, (long)pl->workers[w].pid, how,
                  pl->steps[step].label, w + 1, pl->workers[w].log_path);
    } else {
        error_set(err, "worker %d (pid %ld) %s between partitions\n  worker %d's log: %s",
                  w + 1, (long)pl->workers[w].pid, how, w + 1, pl->workers[w].log_path);
    }
}

static void
stop_all(struct pool *pl)
{
    int w, status;

    for (w = 0; w < pl->n_workers; w++) {
        if (pl->workers[w].pid > 0 && pl->workers[w].alive) {
            kill(pl->workers[w].pid, SIGKILL);
        }
    }
    for (w = 0; w < pl->n_workers; w++) {
        if (pl->workers[w].pid > 0 && pl->workers[w].alive) {
            while (waitpid(pl->workers[w].pid, &status, 0) < 0 && errno == EINTR) {
            }
            pl->workers[w].alive = 0;
        }
    }
}

static void
remove_part_dir(struct pool *pl)
{
    DIR *d;
    struct dirent *e;
    char path[PATH_MAX + 300];

    if (pl->part_dir == NULL) {
        return;
    }
    d = opendir(pl->part_dir);
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", pl->part_dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(pl->part_dir);
}

/* Collects a worker whose pipe closed. Fine only after STOP and a clean exit; otherwise the job
 * fails with how it died and where. */
static int
reap(struct pool *pl, int w, struct error *err)
{
    struct worker *wk = &pl->workers[w];
    int status = 0;

    while (waitpid(wk->pid, &status, 0) < 0 && errno == EINTR) {
    }
    wk->alive = 0;
    close(wk->report_fd);
    close(wk->cmd_fd);
    wk->report_fd = wk->cmd_fd = -1;
    if (wk->stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    death_failure(pl, w, status, err);
    return -1;
}

/* assign(), and when the worker cannot be told (it died while parked), reap() it. */
static int
assign_or_reap(struct pool *pl, int w, struct error *err)
{
    if (assign(pl, &pl->workers[w]) == 0) {
        return 0;
    }
    pl->workers[w].stopping = 0; /* whatever it was told, it did not hear it */
    return reap(pl, w, err);
}

/* Handles one report or EOF from worker w. Returns 0 to go on, -1 on job failure. */
static int
service(struct pool *pl, int w, struct error *err)
{
    struct report rep;

    if (read_all(pl->workers[w].report_fd, &rep, sizeof(rep)) != 0) {
        return reap(pl, w, err);
    }
    switch (rep.kind) {
    case REPORT_READY:
        break;
    case REPORT_DONE:
        if ((int64_t)rep.partition != pl->workers[w].assigned) {
            return error_set(err, "worker %d reported partition %" PRIu64 " but was given %" PRId64,
                             w + 1, rep.partition, pl->workers[w].assigned);
        }
        pl->done[rep.partition] = 1;
        pl->stats[rep.partition] = rep.stats;
        pl->records_in += rep.stats.records_in;
        pl->records_out += rep.stats.records_out;
        break;
    case REPORT_FAILED:
        report_failure(pl, w, &rep, err);
        return -1;
    default:
        return error_set(err, "worker %d sent a report of unknown kind %" PRIu32, w + 1, rep.kind);
    }
    /* Hand out the next partition before merging, so the worker is not idle during the copy. */
    if (assign_or_reap(pl, w, err) != 0) {
        return -1;
    }
    if (merge_ready(pl, err) != 0) {
        return -1;
    }
    for (w = 0; w < pl->n_workers; w++) {
        if (pl->workers[w].waiting && assign_or_reap(pl, w, err) != 0) {
            return -1;
        }
    }
    return 0;
}

static int
event_loop(struct pool *pl, struct error *err)
{
    struct pollfd *fds = calloc((size_t)pl->n_workers, sizeof(*fds));
    int *which = calloc((size_t)pl->n_workers, sizeof(*which));
    int rc = -1;

    if (fds == NULL || which == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    for (;;) {
        int n = 0, w, ready;

        for (w = 0; w < pl->n_workers; w++) {
            if (pl->workers[w].alive) {
                fds[n].fd = pl->workers[w].report_fd;
                fds[n].events = POLLIN;
                which[n++] = w;
            }
        }
        if (n == 0) {
            break;
        }
        ready = ppoll(fds, (nfds_t)n, NULL, &pl->old_mask);
        if (interrupted) {
            error_set(err, "interrupted by signal SIG%s", sigabbrev_np((int)interrupted));
            goto out;
        }
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            error_errno(err, "ppoll");
            goto out;
        }
        for (w = 0; w < n; w++) {
            if (fds[w].revents != 0 && service(pl, which[w], err) != 0) {
                goto out;
            }
        }
    }
    if (pl->merged != pl->plan->n_parts) {
        error_set(err, "internal error: %zu of %zu partitions merged", pl->merged,
                  pl->plan->n_parts);
        goto out;
    }
    rc = 0;
out:
    free(fds);
    free(which);
    return rc;
}

static int
make_part_dir(struct pool *pl, struct error *err)
{
    char *dir;
    const char *tmp = getenv("TMPDIR");

    if (strcmp(pl->job->output, "-") == 0) {
        dir = strdup(tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    } else {
        /* Beside the output, so the merge copies within one file system. */
        dir = merge_dirname(pl->job->output);
    }
    if (dir == NULL || asprintf(&pl->part_dir, "%s/.tranche-parts-XXXXXX", dir) < 0) {
        pl->part_dir = NULL;
        free(dir);
        return error_set(err, "out of memory");
    }
    free(dir);
    if (mkdtemp(pl->part_dir) == NULL) {
        error_errno(err, "cannot create a directory for part files at %s", pl->part_dir);
        free(pl->part_dir);
        pl->part_dir = NULL;
        return -1;
    }
    return 0;
}

static int
run_forked(struct pool *pl, struct error *err)
{
    int w, k, rc = POOL_NOT_STARTED;
    char name[64];

    pl->n_workers = pl->opt->workers;
    if ((size_t)pl->n_workers > pl->plan->n_parts) {
        pl->n_workers = (int)pl->plan->n_parts;
    }
    pl->workers = calloc((size_t)pl->n_workers + 1, sizeof(*pl->workers));
    pl->done = calloc(pl->plan->n_parts + 1, 1);
    pl->stats = calloc(pl->plan->n_parts + 1, sizeof(*pl->stats));
    pl->part_worker = calloc(pl->plan->n_parts + 1, sizeof(*pl->part_worker));
    pl->part_slot = calloc(pl->plan->n_parts + 1, sizeof(*pl->part_slot));
    if (pl->workers == NULL || pl->done == NULL || pl->stats == NULL || pl->part_worker == NULL ||
        pl->part_slot == NULL) {
        free(pl->workers);
        free(pl->done);
        free(pl->stats);
        free(pl->part_worker);
        free(pl->part_slot);
        error_set(err, "out of memory");
        return POOL_NOT_STARTED;
    }
    for (w = 0; w < pl->n_workers; w++) {
        pl->workers[w].log_fd = -1;
        pl->workers[w].report_fd = pl->workers[w].cmd_fd = -1;
        for (k = 0; k < SLOTS; k++) {
            pl->workers[w].slot_fd[k] = -1;
            pl->workers[w].slot_part[k] = -1;
        }
    }
    pl->progress = mmap(NULL, sizeof(*pl->progress) * ((size_t)pl->n_workers + 1),
                        PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pl->progress == MAP_FAILED) {
        pl->progress = NULL;
        error_errno(err, "cannot map shared memory");
        goto out;
    }
    for (w = 0; w < pl->n_workers; w++) {
        for (k = 0; k < SLOTS; k++) {
            pl->workers[w].slot_fd[k] = memfd_create("tranche-part", MFD_CLOEXEC);
            if (pl->workers[w].slot_fd[k] < 0) {
                error_errno(err, "cannot create an in-memory part file");
                goto out;
            }
        }
    }
    for (w = 0; w < pl->n_workers; w++) {
        pl->progress[w].partition = -1;
        pl->progress[w].step = -1;
        snprintf(name, sizeof(name), "worker-%d.log", w + 1);
        if (asprintf(&pl->workers[w].log_path, "%s/%s", pl->opt->log_dir, name) < 0) {
            pl->workers[w].log_path = NULL;
            error_set(err, "out of memory");
            goto out;
        }
        if (log_open(pl->opt->log_dir, name, &pl->workers[w].log_fd, err) != 0) {
            goto out;
        }
    }
    if (make_part_dir(pl, err) != 0) {
        goto out;
    }
    for (w = 0; w < pl->n_workers; w++) {
        if (spawn(pl, w, err) != 0) {
            goto out;
        }
        log_line(pl->log_fd, "started worker %d, pid %ld, log %s", w + 1,
                 (long)pl->workers[w].pid, pl->workers[w].log_path);
    }
    rc = event_loop(pl, err) == 0 ? POOL_OK : POOL_FAILED;
out:
    stop_all(pl);
    for (w = 0; w < pl->n_workers; w++) {
        if (pl->workers[w].report_fd >= 0) {
            close(pl->workers[w].report_fd);
        }
        if (pl->workers[w].cmd_fd >= 0) {
            close(pl->workers[w].cmd_fd);
        }
        if (pl->workers[w].log_fd >= 0) {
            close(pl->workers[w].log_fd);
        }
        for (k = 0; k < SLOTS; k++) {
            if (pl->workers[w].slot_fd[k] >= 0) {
                close(pl->workers[w].slot_fd[k]);
            }
        }
        free(pl->workers[w].log_path);
    }
    remove_part_dir(pl);
    free(pl->part_dir);
    free(pl->workers);
    free(pl->done);
    free(pl->stats);
    free(pl->part_worker);
    free(pl->part_slot);
    if (pl->progress != NULL) {
        munmap(pl->progress, sizeof(*pl->progress) * ((size_t)pl->n_workers + 1));
    }
    return rc;
}

/* Runs partitions [first, last) one after another in this process, straight into the output. */
static int
run_in_process(struct pool *pl, size_t first, size_t last, struct error *err)
{
    struct chain *chain = NULL;
    struct partition_stats stats;
    struct chain_output out = {pl->merge.fd, pl->merge.output, 0, NULL};
    int failed_step, rc = -1;
    char where[PATH_MAX + 128];
    size_t k;

    if (chain_new(pl->steps, pl->job->n_steps, pl->job->delimiter, 0, pl->log_fd, NULL, &chain,
                  &failed_step, err) != 0) {
        return error_prefix(err, "%s failed to start",
                            failed_step >= 0 ? pl->steps[failed_step].label : "a step");
    }
    chain_set_stop(chain, &interrupted);
    for (k = first; k < last; k++) {
        const struct partition *p = &pl->plan->parts[k];

        if (interrupted) {
            error_set(err, "interrupted by signal SIG%s", sigabbrev_np((int)interrupted));
            goto out;
        }
        if (chain_run(chain, p, pl->inputs->fds[p->file], input_path(pl, p), &out, &stats,
                      &failed_step, err) != 0) {
            describe_partition(pl, p, where, sizeof(where));
            if (failed_step >= 0) {
                error_prefix(err, "%s failed in %s", where, pl->steps[failed_step].label);
            } else {
                error_prefix(err, "%s failed", where);
            }
            goto out;
        }
        pl->records_in += stats.records_in;
        pl->records_out += stats.records_out;
        log_line(pl->log_fd, "in-process: partition %zu [%" PRIu64 ", %" PRIu64 ") of %s: records"
                 " in %" PRIu64 ", out %" PRIu64 ", %.3fs", k, p->start, p->end,
                 input_path(pl, p), stats.records_in, stats.records_out, stats.nanos / 1e9);
    }
    rc = 0;
out:
    chain_free(chain);
    return rc;
}

int
pool_run(const struct job *job, const struct step *steps, const struct plan *plan,
         const struct pool_inputs *inputs, const struct pool_options *opt, struct error *err)
{
    struct pool pl;
    struct sigaction sa, old_action[3], old_pipe;
    struct timespec t0, t1;
    sigset_t stop_set;
    size_t i;
    int rc = POOL_NOT_STARTED;

    memset(&pl, 0, sizeof(pl));
    pl.job = job;
    pl.steps = steps;
    pl.plan = plan;
    pl.inputs = inputs;
    pl.opt = opt;
    pl.log_fd = -1;
    pl.merge.fd = -1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (log_mkdirs(opt->log_dir, err) != 0 || log_open(opt->log_dir, "tranche.log", &pl.log_fd,
                                                       err) != 0) {
        return POOL_NOT_STARTED;
    }
    log_line(pl.log_fd, "job %s: %zu input file(s), %zu partition(s), %d worker(s)%s, output %s",
             job->file, inputs->n, plan->n_parts, opt->workers,
             opt->in_process ? " (in-process)" : "", job->output);

    interrupted = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
        sigaction(stop_signals[i], &sa, &old_action[i]);
    }
    /* A closed standard output must come back as EPIPE from write, not kill the parent while
     * its workers run on. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_pipe);
    stop_signal_set(&stop_set);
    sigprocmask(SIG_SETMASK, NULL, &pl.old_mask);

    if (strcmp(job->output, "-") != 0) {
        char *dir = merge_dirname(job->output);
        int made = dir != NULL ? log_mkdirs(dir, err) : error_set(err, "out of memory");
        free(dir);
        if (made != 0) {
            error_prefix(err, "cannot create the output %s", job->output);
            goto out;
        }
    }
    if (merge_open(&pl.merge, job->output, err) != 0) {
        goto out;
    }
    if (opt->only_partition >= 0) {
        rc = run_in_process(&pl, (size_t)opt->only_partition, (size_t)opt->only_partition + 1,
                            err);
    } else if (opt->in_process || plan->n_parts == 0) {
        rc = run_in_process(&pl, 0, plan->n_parts, err);
    } else {
        sigprocmask(SIG_BLOCK, &stop_set, NULL);
        rc = run_forked(&pl, err);
        sigprocmask(SIG_SETMASK, &pl.old_mask, NULL);
    }
    if (rc == POOL_OK && merge_commit(&pl.merge, err) != 0) {
        rc = POOL_FAILED;
    }
out:
    if (rc != POOL_OK) {
        if (pl.merge.broken_pipe) {
            rc = POOL_BROKEN_PIPE;
        }
        merge_abort(&pl.merge);
        log_line(pl.log_fd, "job failed: %s", err->msg);
    } else {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        log_line(pl.log_fd, "job done: %" PRIu64 " records in, %" PRIu64 " out, %.3fs",
                 pl.records_in, pl.records_out,
                 (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    }
    for (i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
        sigaction(stop_signals[i], &old_action[i], NULL);
    }
    sigaction(SIGPIPE, &old_pipe, NULL);
    close(pl.log_fd);
    return rc;
}
