/* core/aggregate.c: the aggregate stage's partials and its combine phase (see aggregate.h). */
#include "aggregate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bgzf.h"
#include "bgzf_writer.h"
#include "chain.h"
#include "clock.h"
#include "io.h"
#include "log.h"
#include "signals.h"

/* What the combine phase reports (its process writes it to the runner). */
struct combine_report {
    int rc; /* 0, ERR_FAILED or ERR_PIPE */
    struct partition_stats stats;
    char msg[ERROR_MSG_MAX];
};

int
aggregate_combines(const struct run *r)
{
    return r->job->aggregate && r->opt->only_partition < 0 && r->opt->n_replay == 0 &&
           !r->opt->partials_out;
}

/* The directory beside the output (or in $TMPDIR for an output written in place), where the
 * partials wait and the aggregators spill. */
static int
make_dir(const struct output *o, struct aggregate *a, struct error *err)
{
    const char *tmp = getenv("TMPDIR");
    char *where;
    int rc;

    memset(a, 0, sizeof(*a));
    a->dir = PARTS_NONE;
    a->partials_fd = -1;
    a->output_fd = -1;
    /* Beside the output, on the disk it goes to: partials may be as large as the input has keys;
     * an output written in place (standard output, a FIFO) has no "beside". */
    where = o->tmp_path != NULL ? path_dirname(o->path)
                                : strdup(tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (where == NULL) {
        return error_set(err, "out of memory");
    }
    rc = parts_init(&a->dir, where, err);
    free(where);
    chain_set_temp_base(a->dir.dir);
    return rc;
}

int
aggregate_start(struct run *r, struct aggregate *a, struct error *err)
{
    int rc = make_dir(&r->output, a, err);

    if (rc == 0 && r->opt->partials_out) {
        /* (a shard's part: the framed partials go straight to the output, for the merge) */
        a->opt = r->opt;
        a->map_opt = *r->opt;
        a->map_opt.gzip_level = 0;
        a->output_fd = r->output.fd;
        r->opt = &a->map_opt;
        r->framed = 1;
        return 0;
    }
    if (rc == 0 && !aggregate_combines(r)) {
        /* (the partials are the output: no file for them, but a spill directory) */
        log_line(r->log_fd,
                 "no combine phase (--partition, --replay): the output is the partial "
                 "state of %s",
                 r->steps[r->job->n_steps - 1].label);
        fprintf(stderr,
                "tranche: note: the output is the partial state of %s for %s, as its map phase "
                "emitted it: not the job's result (no combine phase with --partition or "
                "--replay)\n",
                r->steps[r->job->n_steps - 1].label,
                r->opt->only_partition >= 0 ? "this partition" : "these partitions");
        return 0;
    }
    if (rc != 0 || parts_create(&a->dir, 0, &a->partials_fd, err) != 0) {
        aggregate_release(a);
        return error_prefix(err, "the aggregate stage's partials");
    }
    a->opt = r->opt;
    a->map_opt = *r->opt;
    a->map_opt.gzip_level = 0;
    a->output_fd = r->output.fd;
    r->output.fd = a->partials_fd;
    r->opt = &a->map_opt;
    r->framed = 1;
    return 0;
}

void
aggregate_end_map(struct run *r, struct aggregate *a)
{
    if (a->opt == NULL) {
        return;
    }
    r->output.fd = a->output_fd;
    r->opt = a->opt;
    r->framed = 0;
    a->opt = NULL;
}

struct combine_sink {
    struct output *output;
    struct bgzf_writer writer;
};

static int
combine_drain(void *arg, const char *data, size_t len, int last, size_t *taken, struct error *err)
{
    struct combine_sink *s = arg;

    return bgzf_writer_put(&s->writer, output_put, s->output, data, len, last, taken, err);
}

/* The combine phase, in this process. */
static int
combine_here(struct run *r, struct aggregate *a, struct partition_stats *stats, struct error *err)
{
    const struct step *st = &r->steps[r->job->n_steps - 1];
    struct combine_sink sink = {.output = &r->output};
    struct chain_sink cs = {combine_drain, &sink};
    struct chain *c = NULL;
    uint64_t t0 = clock_now_ns();
    int failed_step, rc;

    memset(stats, 0, sizeof(*stats));
    if (lseek(a->partials_fd, 0, SEEK_SET) != 0) {
        return error_errno(err, "cannot read the partials back");
    }
    if (bgzf_writer_init(&sink.writer, r->opt->gzip_level, err) != 0) {
        return -1;
    }
    if (chain_new_combine(r->steps, r->job->n_steps, &r->job->framing, r->log_fd, &c, err) != 0) {
        bgzf_writer_release(&sink.writer);
        return -1;
    }
    rc = chain_combine(c, a->partials_fd, &cs, &signals_caught, stats, err);
    if (rc != 0) {
        chain_free(c);
        error_prefix(err, "%s, combine phase", st->label);
    } else if (chain_finish(c, &failed_step, err) != 0) {
        rc = error_prefix(err, "%s failed in fini (combine phase)", st->label);
    }
    bgzf_writer_release(&sink.writer);
    stats->nanos = clock_now_ns() - t0;
    if (rc == 0) {
        log_line(r->log_fd,
                 "%s: combined %" PRIu64 " partial record(s) (%" PRIu64 " bytes) into %" PRIu64
                 " record(s) in %.3fs",
                 st->label, stats->records_in, stats->bytes_in, stats->records_out,
                 (double)stats->nanos / 1e9);
    }
    return rc;
}

/* The output is what the combine phase wrote, not the partials. */
static void
note_output(struct run *r, const struct partition_stats *st)
{
    r->records_out = st->records_out;
    r->stats->records_out = st->records_out;
    r->stats->bytes_out = st->bytes_out;
}

/* The combine phase's process: combine_here, its message written to fd. */
static void __attribute__((noreturn))
combine_child(struct run *r, struct aggregate *a, pid_t parent, int fd)
{
    static struct combine_report rep;
    struct error e;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(1);
    }
    setpgid(0, 0); /* a plugin's kill(0, sig) reaches this process, not the runner */
    signals_child_default();
    memset(&e, 0, sizeof(e));
    if (combine_here(r, a, &rep.stats, &e) != 0) {
        rep.rc = r->output.broken_pipe ? ERR_PIPE : ERR_FAILED;
        snprintf(rep.msg, sizeof(rep.msg), "%s", e.msg);
    }
    _exit(io_write_all(fd, &rep, sizeof(rep)) == 0 ? 0 : 1);
}

int
aggregate_combine(struct run *r, struct aggregate *a, struct error *err)
{
    const struct step *st = &r->steps[r->job->n_steps - 1];
    static struct combine_report rep;
    struct partition_stats stats;
    char how[256];
    size_t got = 0;
    ssize_t n;
    int fds[2], status = 0, killed = 0;
    pid_t pid, parent = getpid();

    if (run_in_this_process(r->opt)) {
        if (combine_here(r, a, &stats, err) != 0) {
            return r->output.broken_pipe ? ERR_PIPE : ERR_FAILED;
        }
        note_output(r, &stats);
        return 0;
    }
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return error_errno(err, "cannot create a pipe"), ERR_FAILED;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return error_errno(err, "cannot fork the combine phase"), ERR_FAILED;
    }
    if (pid == 0) {
        close(fds[0]);
        combine_child(r, a, parent, fds[1]);
    }
    close(fds[1]);
    /* Its report, when it ends; a stop signal ends it at once. */
    memset(&rep, 0, sizeof(rep));
    for (;;) {
        n = read(fds[0], (char *)&rep + got, sizeof(rep) - got);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            if (signals_caught && !killed) {
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                killed = 1;
            }
            continue;
        }
        break;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    kill(-pid, SIGKILL); /* what a plugin started there goes with it */
    if (signals_caught) {
        error_set(err, "interrupted by signal SIG%s", signals_name((int)signals_caught));
        return ERR_FAILED;
    }
    if (got == sizeof(rep) && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (rep.rc != 0) {
            r->output.broken_pipe = rep.rc == ERR_PIPE;
            error_set(err, "%s", rep.msg);
            return rep.rc;
        }
        note_output(r, &rep.stats);
        return 0;
    }
    signals_describe_status(status, how, sizeof(how));
    error_set(err, "%s: its combine phase's process ended early (%s)", st->label, how);
    return ERR_FAILED;
}

/* Appends the file at path to fd, at its offset (copy_file_range where the file systems allow,
 * else read and write). */
static int
append_file(int fd, const char *path, struct error *err)
{
    static char buf[1 << 20];
    int in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n;

    if (in < 0) {
        return error_errno(err, "cannot read %s", path);
    }
    do {
        n = copy_file_range(in, NULL, fd, NULL, (size_t)1 << 30, 0);
    } while (n > 0 || (n < 0 && errno == EINTR));
    /* (EXDEV, ENOSYS, EOPNOTSUPP, EINVAL...: the rest the usual way, from where it stopped) */
    while (n < 0 && (n = io_read_full(in, buf, sizeof(buf))) > 0) {
        if (io_write_all(fd, buf, (size_t)n) != 0) {
            close(in);
            return error_errno(err, "cannot write the partials");
        }
        n = -1;
    }
    close(in);
    return n < 0 ? error_errno(err, "cannot read %s", path) : 0;
}

int
aggregate_merge(const struct job *job, const struct step *steps, char *const *parts, size_t n_parts,
                const char *out, int gzip_level, int fsync, int log_fd, struct error *err)
{
    struct run_options opt;
    struct runstats stats;
    struct signals_saved saved;
    struct aggregate a;
    struct run r;
    size_t i;
    int rc, saved_stdout = -1;

    memset(&opt, 0, sizeof(opt));
    opt.workers = 1;
    opt.only_partition = -1;
    opt.gzip_level = gzip_level;
    opt.fsync = fsync;
    memset(&stats, 0, sizeof(stats));
    memset(&r, 0, sizeof(r));
    r.job = job;
    r.steps = steps;
    r.opt = &opt;
    r.log_fd = log_fd;
    r.stats = &stats;
    r.output.fd = -1;
    memset(&a, 0, sizeof(a));
    a.dir = PARTS_NONE;
    a.partials_fd = -1;
    signals_catch(&saved, 1);
    rc = output_open(&r.output, out, err);
    if (rc != 0) {
        signals_restore(&saved);
        return rc;
    }
    output_set_fsync(&r.output, fsync);
    if (run_keep_output_off_stdio(&r.output, &saved_stdout, err) != 0 ||
        make_dir(&r.output, &a, err) != 0 || parts_create(&a.dir, 0, &a.partials_fd, err) != 0) {
        rc = ERR_FAILED;
    }
    for (i = 0; rc == 0 && i < n_parts; i++) {
        if (append_file(a.partials_fd, parts[i], err) != 0) {
            rc = ERR_FAILED;
        }
    }
    if (rc == 0) {
        rc = aggregate_combine(&r, &a, err);
    }
    if (rc == 0 && gzip_level > 0 &&
        output_write(&r.output, bgzf_eof_block, BGZF_EOF_SIZE, err) != 0) {
        rc = ERR_FAILED;
    }
    if (rc == 0 && output_commit(&r.output, err) != 0) {
        rc = ERR_FAILED;
    }
    if (rc != 0 && r.output.broken_pipe) {
        rc = ERR_PIPE;
    }
    if (rc == 0) {
        log_line(log_fd, "merged %zu part(s) of partials: %" PRIu64 " record(s) out", n_parts,
                 stats.records_out);
    }
    aggregate_release(&a);
    if (rc != 0) {
        output_abort(&r.output);
    }
    if (saved_stdout >= 0) {
        fflush(stdout);
        dup2(saved_stdout, STDOUT_FILENO);
        close(saved_stdout);
    }
    signals_restore(&saved);
    return rc;
}

void
aggregate_release(struct aggregate *a)
{
    struct dirent *e;
    DIR *d;
    char path[4096];

    if (a->partials_fd >= 0) {
        close(a->partials_fd);
        a->partials_fd = -1;
    }
    if (a->dir.dir == NULL) {
        return;
    }
    chain_set_temp_base(NULL);
    /* The spill directories of the processes that made one (DIR/tmp-PID), also of one killed. */
    d = opendir(a->dir.dir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "tmp-", 4) == 0 &&
            (size_t)snprintf(path, sizeof(path), "%s/%s", a->dir.dir, e->d_name) < sizeof(path)) {
            chain_remove_temp_dir(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    parts_release(&a->dir);
}
