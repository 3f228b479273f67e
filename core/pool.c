/*
 * core/pool.c: the forked worker pool and the ordered output.
 *
 * Protocol: each worker has a report pipe (worker -> parent) and a command pipe (parent ->
 * worker). A worker says READY after its steps' init, then is given one partition at a time
 * (ASSIGN) and answers with fixed-size reports, smaller than PIPE_BUF so each write is atomic.
 * The parent learns of a death from EOF on the report pipe and waitpid(), never by waiting
 * forever; a worker never runs the parent's error paths, it reports and _exit()s.
 *
 * The output: partitions are written in order, by the workers themselves, into the temporary
 * output file they inherited. Shared memory holds `head`, the partition whose turn it is. The
 * worker running the head partition writes its output straight to the output as it goes; the
 * others keep theirs in their partition buffer (a part file in memory; past SPILL_AFTER bytes it
 * continues in a part file on disk beside the output) and say DONE. When the head's worker says
 * WRITTEN, the parent moves `head` on: a worker still running that partition notices at its next
 * 1 MiB of output and switches to writing directly; one that already said DONE is sent GRANT,
 * writes its buffer and says WRITTEN. A worker that waits for its GRANT longer than its
 * partition took (at least PARK_AFTER_MS) parks the output in its part file on disk, says PARKED
 * and takes more work; the parent writes a parked partition itself when its turn comes, and hands
 * out no more work while 2 x workers + 2 are parked. So a slow partition does not hold the
 * others, in the usual case no data passes through the parent and each byte of output is copied
 * into the output once, and memory and disk stay bounded whatever the input size.
 *
 * Shared memory per worker also says which partition, step and record it was in, so that the
 * parent can say where a worker that died of a signal was.
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

#include "bgzf.h"
#include "gzindex.h"
#include "io.h"
#include "log.h"
#include "merge.h"
#include "stream.h"
#include "worker.h"

enum report_kind {
    REPORT_READY = 1,
    REPORT_DONE = 2,
    REPORT_WRITTEN = 3,
    REPORT_FAILED = 4,
    REPORT_PARKED = 5
};
enum command_kind { CMD_ASSIGN = 1, CMD_GRANT = 2, CMD_STOP = 3 };

/* A partition's output past this many bytes, while not its turn, goes on to a part file on disk. */
#define SPILL_AFTER (48u << 20)

/* Compressed blocks are gathered up to this much before a write. */
#define STAGE_SIZE (1u << 20)

/* A worker whose finished partition is not yet due waits this long (or as long as the partition
 * took, if longer) for its turn, then parks the output in a part file on disk and takes more
 * work, so that a slow partition does not hold the others. */
#define PARK_AFTER_MS 100

struct command {
    uint32_t kind;
    uint32_t unused;
    uint64_t partition;
    struct partition part; /* ASSIGN: the partition (the worker's copy of the plan is old) */
};

struct report {
    uint32_t kind;
    int32_t step;        /* FAILED: the step, or -1 for I/O */
    uint64_t partition;  /* UINT64_MAX when failing in init */
    int32_t broken_pipe; /* FAILED: standard output's reader went away */
    int32_t spilled;     /* DONE/WRITTEN: part of the output went through a part file on disk */
    struct partition_stats stats;
    char msg[2048];
};

_Static_assert(sizeof(struct report) < PIPE_BUF, "a report must be written atomically");

/* Memory shared by the parent and every worker. */
struct shared {
    uint64_t head; /* the partition whose output is written now; all before it are written */
    struct worker_progress progress[];
};

enum part_state { PART_WAITING = 0, PART_RUNNING, PART_DONE, PART_PARKED, PART_WRITTEN };

struct worker {
    pid_t pid;
    int report_fd; /* parent's read end */
    int cmd_fd;    /* parent's write end */
    int log_fd;
    char *log_path;
    int64_t assigned; /* partition index, or -1 */
    int stopping;     /* sent CMD_STOP */
    int idle;         /* free, but not given work while too many partitions are parked */
    int alive;
};

struct pool {
    const struct job *job;
    const struct step *steps;
    const struct plan *fixed; /* the caller's plan: every input's partitions but the streams' */
    struct plan live;         /* the partitions known so far, in output order */
    size_t plan_file;         /* the next input to plan */
    size_t fixed_next;        /* the next partition of `fixed` to take */
    int planned_all;          /* every partition of every input is in `live` */
    struct stream *stream;    /* the ring the parent decodes streams into; NULL without streams */
    int stream_active;        /* input plan_file is being decoded */
    int stream_full;          /* the ring is full: decode again once partitions are done */
    size_t release_next;      /* the first partition whose input may still be in use */
    size_t tracked;           /* partitions state and owner have room for */
    struct partition part;    /* in a worker: the partition it runs */
    const struct pool_inputs *inputs;
    const struct pool_options *opt;
    struct worker *workers;
    int n_workers;
    struct shared *shared;
    size_t shared_size;
    char *part_dir;
    int log_fd;
    size_t next;          /* next partition to hand out */
    unsigned char *state; /* enum part_state, per partition */
    int *owner;           /* per partition: the worker it was given to */
    struct merge merge;
    uint64_t records_in, records_out;
    size_t spilled;
    size_t parked;     /* partitions whose output waits in a part file for the parent to write */
    size_t park_limit; /* at most this many at once: disk use stays bounded */
    uint64_t stream_target; /* partition size for streams: several fit in the ring */
    size_t parked_total;
    sigset_t old_mask; /* the signal mask to restore, and to wait with */
    uint64_t spill_after;   /* SPILL_AFTER, or $TRANCHE_TEST_SPILL_AFTER */
    uint64_t park_after_ms; /* PARK_AFTER_MS, or $TRANCHE_TEST_PARK_AFTER_MS */
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

static int
is_compressed(const struct pool *pl, size_t file)
{
    return pl->inputs->stream[file] || pl->inputs->gz[file].blocks != NULL ||
           pl->inputs->gzi[file].n > 0;
}

static void
describe_partition(const struct pool *pl, const struct partition *p, char *buf, size_t size)
{
    snprintf(buf, size, "partition %zu (%sbytes %" PRIu64 "-%" PRIu64 " of %s)", p->index,
             is_compressed(pl, p->file) ? "decompressed " : "", p->start, p->end,
             input_path(pl, p));
}

/* Where partition p's bytes come from. */
static void
input_of(const struct pool *pl, const struct partition *p, struct chain_input *in)
{
    memset(in, 0, sizeof(*in));
    in->fd = pl->inputs->fds[p->file];
    in->path = input_path(pl, p);
    in->size = (uint64_t)pl->inputs->st[p->file].st_size;
    in->bgzf = &pl->inputs->gz[p->file];
    in->gzi = &pl->inputs->gzi[p->file];
    in->check_tail = pl->opt->only_partition >= 0;
    if (pl->inputs->stream[p->file]) {
        in->mem = stream_data(pl->stream, p);
    }
}

/* Grows the per-partition state to the plan's size. */
static int
track_parts(struct pool *pl, struct error *err)
{
    size_t cap = pl->live.cap, k;
    unsigned char *state;
    int *owner;

    if (pl->live.n_parts <= pl->tracked) {
        return 0;
    }
    state = realloc(pl->state, cap * sizeof(*state));
    if (state != NULL) {
        pl->state = state;
    }
    owner = realloc(pl->owner, cap * sizeof(*owner));
    if (owner != NULL) {
        pl->owner = owner;
    }
    if (state == NULL || owner == NULL) {
        return error_set(err, "out of memory");
    }
    for (k = pl->tracked; k < cap; k++) {
        pl->state[k] = PART_WAITING;
        pl->owner[k] = -1;
    }
    pl->tracked = cap;
    return 0;
}

/* Decode about this much of a stream between looks at the workers. */
#define DECODE_BUDGET (1u << 20)

/*
 * Plans more partitions: the next inputs' planned partitions, or about `budget` more bytes of
 * the stream being decoded. Sets planned_all after the last input.
 */
static int
plan_more(struct pool *pl, size_t budget, struct error *err)
{
    const struct pool_inputs *in = pl->inputs;

    while (!pl->planned_all) {
        size_t f = pl->plan_file;

        if (pl->stream_active) {
            int rc = stream_step(pl->stream, &pl->live, budget, err);
            if (rc < 0) {
                return -1;
            }
            pl->stream_full = rc == STREAM_FULL;
            if (rc != STREAM_END) {
                break;
            }
            if (stream_index_note(pl->stream)[0] != '\0') {
                log_line(pl->log_fd, "%s: %s", in->paths[f], stream_index_note(pl->stream));
            }
            pl->stream_active = 0;
            pl->plan_file++;
            continue;
        }
        if (f >= in->n) {
            pl->planned_all = 1;
            break;
        }
        if (in->stream[f]) {
            if (stream_start(pl->stream, f, in->fds[f], in->paths[f], &in->st[f], pl->stream_target,
                             pl->job->delimiter, in->index_spacing, err) != 0) {
                return -1;
            }
            log_line(pl->log_fd,
                     "%s: gzip without a usable index: decoding it here, cut into "
                     "partitions of about %" PRIu64 " bytes as it goes",
                     in->paths[f], pl->stream_target);
            pl->stream_active = 1;
            continue;
        }
        while (pl->fixed_next < pl->fixed->n_parts && pl->fixed->parts[pl->fixed_next].file == f) {
            const struct partition *q = &pl->fixed->parts[pl->fixed_next++];
            struct partition *p = partition_push(&pl->live, q->file, q->start, q->end);
            if (p == NULL) {
                return error_set(err, "out of memory");
            }
            p->first_block = q->first_block;
            p->end_block = q->end_block;
        }
        pl->plan_file++;
    }
    return track_parts(pl, err);
}

/* Frees the ring behind every partition no worker reads any more. */
static void
release_ring(struct pool *pl)
{
    while (pl->release_next < pl->live.n_parts && pl->state[pl->release_next] >= PART_DONE) {
        const struct partition *p = &pl->live.parts[pl->release_next++];
        if (pl->inputs->stream[p->file]) {
            stream_release(pl->stream, p->ring_at + (p->end - p->start));
            pl->stream_full = 0;
        }
    }
}

/*
 * Output on its way to the output file or to a part file on disk: as it is, or (gzip output) as
 * BGZF blocks, so that a partition's output is a run of whole blocks wherever it is written and
 * the output is their concatenation, ended by the parent with the empty end-of-file block.
 */
struct out_stage {
    struct bgzf_encoder *enc; /* NULL: plain output */
    unsigned char *buf;       /* compressed blocks not yet handed on */
    size_t len;
    /* Compressed output held while it is not the partition's turn: compressing as the
     * partition runs keeps the workers compressing in parallel, not each in its turn. */
    unsigned char *hold;
    size_t hold_len;
    size_t hold_cap;
};

typedef int (*put_fn)(void *arg, const void *data, size_t len, struct error *err);

static int
stage_init(struct out_stage *st, int gzip_level, struct error *err)
{
    memset(st, 0, sizeof(*st));
    if (gzip_level == 0) {
        return 0;
    }
    st->buf = malloc(STAGE_SIZE + BGZF_MAX_BLOCK);
    if (st->buf == NULL) {
        return error_set(err, "out of memory");
    }
    if (bgzf_encoder_new(gzip_level, &st->enc, err) != 0) {
        free(st->buf);
        st->buf = NULL;
        return -1;
    }
    return 0;
}

static void
stage_release(struct out_stage *st)
{
    bgzf_encoder_free(st->enc);
    free(st->buf);
    free(st->hold);
    memset(st, 0, sizeof(*st));
}

/*
 * Hands data on to put(). Plain output goes as it is, all of it. Compressed output goes as whole
 * blocks of BGZF_MAX_INPUT input bytes, the rest too when `last`; *taken says how much of data
 * was used (the chain keeps the rest for the next call).
 */
static int
stage_put(struct out_stage *st, put_fn put, void *arg, const char *data, size_t len, int last,
          size_t *taken, struct error *err)
{
    size_t off = 0;

    *taken = 0;
    if (st->enc == NULL) {
        *taken = len;
        return put(arg, data, len, err);
    }
    while (len - off >= BGZF_MAX_INPUT || (last && off < len)) {
        size_t n = len - off < BGZF_MAX_INPUT ? len - off : BGZF_MAX_INPUT, block;
        if (st->len > STAGE_SIZE) {
            if (put(arg, st->buf, st->len, err) != 0) {
                return -1;
            }
            st->len = 0;
        }
        block = bgzf_encode_block(st->enc, data + off, n, st->buf + st->len, err);
        if (block == 0) {
            return -1;
        }
        st->len += block;
        off += n;
    }
    if (st->len > 0 && put(arg, st->buf, st->len, err) != 0) {
        return -1;
    }
    st->len = 0;
    *taken = off;
    return 0;
}

static int
put_output(void *merge, const void *data, size_t len, struct error *err)
{
    return merge_write(merge, data, len, err);
}

/* put_fn that keeps compressed output in the stage's hold buffer. */
static int
put_hold(void *arg, const void *data, size_t len, struct error *err)
{
    struct out_stage *st = arg;

    if (len > st->hold_cap - st->hold_len) {
        size_t cap = st->hold_cap > 0 ? st->hold_cap : STAGE_SIZE;
        unsigned char *grown;
        while (cap - st->hold_len < len) {
            cap *= 2;
        }
        grown = realloc(st->hold, cap);
        if (grown == NULL) {
            return error_set(err, "out of memory holding %zu bytes of compressed output", cap);
        }
        st->hold = grown;
        st->hold_cap = cap;
    }
    memcpy(st->hold + st->hold_len, data, len);
    st->hold_len += len;
    return 0;
}

/* What a worker knows about the partition it runs, for its sink. */
struct part_writer {
    struct pool *pl;
    struct out_stage *stage;
    size_t partition;
    int head;     /* its turn: output goes straight to the output */
    int spill_fd; /* the part file on disk, or -1 */
    int spilled;  /* a part file on disk was used */
    char spill_path[PATH_MAX + 32];
};

static int
spill(void *arg, const void *data, size_t len, struct error *err)
{
    struct part_writer *pw = arg;

    if (pw->spill_fd < 0) {
        if (mkdir(pw->pl->part_dir, 0700) != 0 && errno != EEXIST) {
            return error_errno(err, "cannot create the part file directory %s", pw->pl->part_dir);
        }
        pw->spill_fd = open(pw->spill_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (pw->spill_fd < 0) {
            return error_errno(err, "cannot create part file %s", pw->spill_path);
        }
        pw->spilled = 1;
    }
    if (io_write_all(pw->spill_fd, data, len) != 0) {
        return error_errno(err, "cannot write part file %s", pw->spill_path);
    }
    return 0;
}

/* On its turn: the part file on disk first, if there is one, then what is held in memory. */
static int
take_turn(struct part_writer *pw, struct error *err)
{
    int fd = pw->spill_fd;

    pw->head = 1;
    if (fd >= 0) {
        pw->spill_fd = -1;
        if (close(fd) != 0) {
            return error_errno(err, "cannot write part file %s", pw->spill_path);
        }
        if (merge_append(&pw->pl->merge, pw->spill_path, err) != 0) {
            return -1;
        }
    }
    if (pw->stage->hold_len > 0) {
        if (merge_write(&pw->pl->merge, pw->stage->hold, pw->stage->hold_len, err) != 0) {
            return -1;
        }
        pw->stage->hold_len = 0;
    }
    return 0;
}

/* The chain's sink in a worker: write when it is this partition's turn, otherwise keep the
 * output, spilling to disk once it is large. */
static int
worker_drain(void *arg, const char *data, size_t len, int last, size_t *taken, struct error *err)
{
    struct part_writer *pw = arg;

    *taken = 0;
    if (!pw->head && __atomic_load_n(&pw->pl->shared->head, __ATOMIC_ACQUIRE) == pw->partition &&
        take_turn(pw, err) != 0) {
        return -1;
    }
    if (pw->head) {
        return stage_put(pw->stage, put_output, &pw->pl->merge, data, len, last, taken, err);
    }
    if (pw->stage->enc != NULL) {
        if (stage_put(pw->stage, put_hold, pw->stage, data, len, 0, taken, err) != 0) {
            return -1;
        }
        if (pw->stage->hold_len >= pw->pl->spill_after) {
            if (spill(pw, pw->stage->hold, pw->stage->hold_len, err) != 0) {
                return -1;
            }
            pw->stage->hold_len = 0;
        }
        return 0;
    }
    if (len >= pw->pl->spill_after) {
        return stage_put(pw->stage, spill, pw, data, len, 0, taken, err);
    }
    return 0;
}

/* Ends a worker. What plugins left in their stdio buffers goes to the log first: _exit would
 * drop it. */
static void __attribute__((noreturn)) worker_exit(int status)
{
    fflush(NULL);
    _exit(status);
}

/* Reports a failure and ends the worker; fini runs first, as plugin.h promises. */
static void __attribute__((noreturn))
worker_fail(struct pool *pl, int w, struct chain *chain, struct report *rep, int step,
            const struct error *err)
{
    int fd = pl->workers[w].report_fd;

    rep->kind = REPORT_FAILED;
    rep->step = step;
    rep->broken_pipe = pl->merge.broken_pipe;
    snprintf(rep->msg, sizeof(rep->msg), "%s", err->msg);
    if (rep->partition != UINT64_MAX) {
        const struct partition *p = &pl->part;
        log_line(pl->workers[w].log_fd,
                 "worker %d: partition %" PRIu64 " [%" PRIu64 ", %" PRIu64 ") failed in %s: %s",
                 w + 1, rep->partition, p->start, p->end, step >= 0 ? pl->steps[step].label : "I/O",
                 err->msg);
    } else {
        log_line(pl->workers[w].log_fd, "worker %d: init failed: %s", w + 1, err->msg);
    }
    chain_free(chain);
    io_write_all(fd, rep, sizeof(*rep));
    worker_exit(1);
}

static void
log_partition(struct pool *pl, int w, size_t k, const struct report *rep, const char *note)
{
    const struct partition *p = &pl->part;

    log_line(pl->workers[w].log_fd,
             "worker %d: partition %zu [%" PRIu64 ", %" PRIu64 ") of %s: records in %" PRIu64
             ", out %" PRIu64 ", %" PRIu64 " bytes out%s, %.3fs",
             w + 1, k, p->start, p->end, input_path(pl, p), rep->stats.records_in,
             rep->stats.records_out, rep->stats.bytes_out, note, rep->stats.nanos / 1e9);
}

/* Waits for the GRANT of partition k, as long as the partition took to run and at least
 * PARK_AFTER_MS. Returns 1 when granted, 0 when the wait is over (the caller parks). */
static int
wait_for_turn(int cmd_fd, size_t k, uint64_t nanos, uint64_t park_after_ms)
{
    struct pollfd pfd = {cmd_fd, POLLIN, 0};
    struct command cmd;
    uint64_t ms = nanos / 1000000;
    int ready;

    if (ms < park_after_ms) {
        ms = park_after_ms;
    }
    do {
        ready = poll(&pfd, 1, ms > INT32_MAX ? INT32_MAX : (int)ms);
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) {
        return 0;
    }
    if (read_all(cmd_fd, &cmd, sizeof(cmd)) != 0 || cmd.kind != CMD_GRANT || cmd.partition != k) {
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
    int fd;

    if (spill(pw, "", 0, err) != 0) { /* creates the part file even for an empty output */
        return -1;
    }
    if (pw->stage->hold_len > 0) {
        if (spill(pw, pw->stage->hold, pw->stage->hold_len, err) != 0) {
            return -1;
        }
        pw->stage->hold_len = 0;
    }
    if (stage_put(pw->stage, spill, pw, pending, len, 1, &taken, err) != 0) {
        return -1;
    }
    fd = pw->spill_fd;
    pw->spill_fd = -1;
    if (close(fd) != 0) {
        return error_errno(err, "cannot write part file %s", pw->spill_path);
    }
    return 0;
}

/* Runs one partition in a worker; writes its output now if it is its turn, else on GRANT, or
 * parks it if the turn is long in coming. */
static void
worker_partition(struct pool *pl, int w, struct chain *chain, struct out_stage *stage, size_t k)
{
    struct worker *me = &pl->workers[w];
    const struct partition *p = &pl->part;
    struct chain_input in;
    struct part_writer pw;
    struct chain_sink sink = {worker_drain, &pw};
    struct report rep;
    struct error err;
    const char *pending;
    size_t pending_len, taken;
    int failed_step = -1;

    memset(&rep, 0, sizeof(rep));
    rep.partition = k;
    memset(&pw, 0, sizeof(pw));
    pw.pl = pl;
    pw.stage = stage;
    pw.partition = k;
    pw.spill_fd = -1;
    snprintf(pw.spill_path, sizeof(pw.spill_path), "%s/part-%06zu", pl->part_dir, k);
    input_of(pl, p, &in);
    if (chain_run(chain, p, &in, &sink, &rep.stats, &failed_step, &err) != 0) {
        worker_fail(pl, w, chain, &rep, failed_step, &err);
    }
    rep.spilled = pw.spilled;
    if (pw.head && stage->hold_len > 0) {
        error_set(&err, "internal error: compressed output held after the turn");
        worker_fail(pl, w, chain, &rep, -1, &err);
    }
    if (!pw.head) {
        rep.kind = REPORT_DONE;
        if (io_write_all(me->report_fd, &rep, sizeof(rep)) != 0) {
            worker_exit(1);
        }
        chain_pending(chain, &pending, &pending_len);
        if (!wait_for_turn(me->cmd_fd, k, rep.stats.nanos, pl->park_after_ms)) {
            if (park(&pw, pending, pending_len, &err) != 0) {
                worker_fail(pl, w, chain, &rep, -1, &err);
            }
            log_partition(pl, w, k, &rep, " (parked in a part file on disk until its turn)");
            rep.kind = REPORT_PARKED;
            if (io_write_all(me->report_fd, &rep, sizeof(rep)) != 0) {
                worker_exit(1);
            }
            return;
        }
        if (take_turn(&pw, &err) != 0 ||
            stage_put(stage, put_output, &pl->merge, pending, pending_len, 1, &taken, &err) != 0) {
            worker_fail(pl, w, chain, &rep, -1, &err);
        }
    }
    log_partition(pl, w, k, &rep, rep.spilled ? " (spilled to a part file on disk)" : "");
    rep.kind = REPORT_WRITTEN;
    if (io_write_all(me->report_fd, &rep, sizeof(rep)) != 0) {
        worker_exit(1);
    }
}

/* The body of a forked worker. Never returns, never touches the parent's cleanup. */
static void __attribute__((noreturn)) worker_main(struct pool *pl, int w)
{
    struct worker *me = &pl->workers[w];
    struct chain *chain = NULL;
    struct out_stage stage;
    struct report rep;
    struct command cmd;
    struct error err;
    int failed_step, i;

    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_IGN); /* a closed standard output is EPIPE, reported like any error */
    sigprocmask(SIG_SETMASK, &pl->old_mask, NULL);
    /* Only this worker's own descriptors (and the output) stay open. */
    close(pl->log_fd);
    for (i = 0; i < pl->n_workers; i++) {
        if (i != w && pl->workers[i].log_fd >= 0) {
            close(pl->workers[i].log_fd);
        }
        if (i != w && pl->workers[i].pid > 0) {
            close(pl->workers[i].report_fd);
            close(pl->workers[i].cmd_fd);
        }
    }
    /* Whatever a plugin prints goes to this worker's log, never to the job's output (which
     * pool_run moved off descriptors 0-2), line by line so that it interleaves with log lines. */
    dup2(me->log_fd, STDOUT_FILENO);
    dup2(me->log_fd, STDERR_FILENO);
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&rep, 0, sizeof(rep));
    rep.partition = UINT64_MAX;
    if (stage_init(&stage, pl->opt->gzip_level, &err) != 0) {
        worker_fail(pl, w, NULL, &rep, -1, &err);
    }
    if (chain_new(pl->steps, pl->job->n_steps, pl->job->delimiter, w + 1, me->log_fd,
                  &pl->shared->progress[w], &chain, &failed_step, &err) != 0) {
        worker_fail(pl, w, NULL, &rep, failed_step, &err);
    }
    log_line(me->log_fd, "worker %d (pid %ld) started", w + 1, (long)getpid());
    rep.kind = REPORT_READY;
    if (io_write_all(me->report_fd, &rep, sizeof(rep)) != 0) {
        worker_exit(1);
    }
    while (read_all(me->cmd_fd, &cmd, sizeof(cmd)) == 0 && cmd.kind != CMD_STOP) {
        /* A GRANT here is for a partition this worker parked as it was sent: the parent
         * writes that one itself. */
        if (cmd.kind == CMD_ASSIGN) {
            pl->part = cmd.part;
            worker_partition(pl, w, chain, &stage, (size_t)cmd.partition);
        }
    }
    chain_free(chain);
    stage_release(&stage);
    log_line(me->log_fd, "worker %d finished", w + 1);
    worker_exit(0);
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

static int
send_command(struct pool *pl, struct worker *wk, enum command_kind kind, uint64_t partition)
{
    struct command cmd;

    memset(&cmd, 0, sizeof(cmd));
    cmd.kind = kind;
    cmd.partition = partition;
    if (kind == CMD_ASSIGN) {
        cmd.part = pl->live.parts[partition];
    }
    return io_write_all(wk->cmd_fd, &cmd, sizeof(cmd));
}

/* Gives a free worker its next partition, or STOP when there is none left; with too many
 * partitions parked, or none ready yet (a stream still decoding), the worker stays idle. */
static int
assign(struct pool *pl, struct worker *wk)
{
    wk->idle = 0;
    wk->assigned = -1;
    if (pl->next < pl->live.n_parts ? pl->parked >= pl->park_limit : !pl->planned_all) {
        wk->idle = 1;
        return 0;
    }
    if (pl->next >= pl->live.n_parts) {
        wk->stopping = 1;
        return send_command(pl, wk, CMD_STOP, 0);
    }
    wk->assigned = (int64_t)pl->next;
    pl->state[pl->next] = PART_RUNNING;
    pl->owner[pl->next] = (int)(wk - pl->workers);
    return send_command(pl, wk, CMD_ASSIGN, pl->next++);
}

/* Hands work to the workers waiting for it. */
static int wake_idle(struct pool *pl, struct error *err);

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
    describe_partition(pl, &pl->live.parts[rep->partition], where, sizeof(where));
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
    const struct worker_progress *pr = &pl->shared->progress[w];
    char how[256], where[PATH_MAX + 128];
    int32_t step = pr->step;
    int64_t part = pr->partition;

    describe_status(status, how, sizeof(how));
    if (part >= 0 && (size_t)part < pl->live.n_parts) {
        describe_partition(pl, &pl->live.parts[part], where, sizeof(where));
        error_set(err,
                  "worker %d (pid %ld) %s in %s, %s, at the record starting at byte %" PRIu64
                  "\n  worker %d's log: %s",
                  w + 1, (long)pl->workers[w].pid, how, where,
                  step >= 0 ? pl->steps[step].label : "outside any step", pr->record_start, w + 1,
                  pl->workers[w].log_path);
    } else if (step >= 0) {
        error_set(err,
                  "worker %d (pid %ld) %s in %s, outside any partition (init or fini)"
                  "\n  worker %d's log: %s",
                  w + 1, (long)pl->workers[w].pid, how, pl->steps[step].label, w + 1,
                  pl->workers[w].log_path);
    } else {
        error_set(err, "worker %d (pid %ld) %s between partitions\n  worker %d's log: %s", w + 1,
                  (long)pl->workers[w].pid, how, w + 1, pl->workers[w].log_path);
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

/* Sends a command, and when the worker cannot hear it (it died), reaps it. */
static int
command_or_reap(struct pool *pl, int w, enum command_kind kind, uint64_t partition,
                struct error *err)
{
    int rc = kind == CMD_ASSIGN ? assign(pl, &pl->workers[w])
                                : send_command(pl, &pl->workers[w], kind, partition);
    if (rc == 0) {
        return 0;
    }
    pl->workers[w].stopping = 0; /* whatever it was told, it did not hear it */
    return reap(pl, w, err);
}

/* Moves the turn on from `head`: parked partitions the parent writes itself, from their part
 * files; a partition already done is granted its turn. Then idle workers get work again. */
static int
advance_head(struct pool *pl, size_t head, struct error *err)
{
    char path[PATH_MAX + 32];

    while (head < pl->live.n_parts && pl->state[head] == PART_PARKED) {
        __atomic_store_n(&pl->shared->head, (uint64_t)head, __ATOMIC_RELEASE);
        snprintf(path, sizeof(path), "%s/part-%06zu", pl->part_dir, head);
        if (merge_append(&pl->merge, path, err) != 0) {
            return -1;
        }
        pl->state[head++] = PART_WRITTEN;
        pl->parked--;
    }
    __atomic_store_n(&pl->shared->head, (uint64_t)head, __ATOMIC_RELEASE);
    if (head < pl->live.n_parts && pl->state[head] == PART_DONE &&
        command_or_reap(pl, pl->owner[head], CMD_GRANT, head, err) != 0) {
        return -1;
    }
    return wake_idle(pl, err);
}

static int
wake_idle(struct pool *pl, struct error *err)
{
    int w;

    for (w = 0; w < pl->n_workers; w++) {
        if (pl->workers[w].idle && command_or_reap(pl, w, CMD_ASSIGN, 0, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Handles one report or EOF from worker w. Returns 0 to go on, -1 on job failure. */
static int
service(struct pool *pl, int w, struct error *err)
{
    struct worker *wk = &pl->workers[w];
    struct report rep;

    if (read_all(wk->report_fd, &rep, sizeof(rep)) != 0) {
        return reap(pl, w, err);
    }
    if ((rep.kind == REPORT_DONE || rep.kind == REPORT_WRITTEN || rep.kind == REPORT_PARKED) &&
        (int64_t)rep.partition != wk->assigned) {
        return error_set(err, "worker %d reported partition %" PRIu64 " but was given %" PRId64,
                         w + 1, rep.partition, wk->assigned);
    }
    switch (rep.kind) {
    case REPORT_READY:
        return command_or_reap(pl, w, CMD_ASSIGN, 0, err);
    case REPORT_DONE:
        pl->state[rep.partition] = PART_DONE;
        if (rep.partition == __atomic_load_n(&pl->shared->head, __ATOMIC_ACQUIRE)) {
            return command_or_reap(pl, w, CMD_GRANT, rep.partition, err);
        }
        return 0;
    case REPORT_WRITTEN:
        if (rep.partition != __atomic_load_n(&pl->shared->head, __ATOMIC_ACQUIRE)) {
            return error_set(err, "worker %d wrote partition %" PRIu64 " out of turn", w + 1,
                             rep.partition);
        }
        pl->state[rep.partition] = PART_WRITTEN;
        pl->records_in += rep.stats.records_in;
        pl->records_out += rep.stats.records_out;
        pl->spilled += rep.spilled != 0;
        if (command_or_reap(pl, w, CMD_ASSIGN, 0, err) != 0) {
            return -1;
        }
        return advance_head(pl, (size_t)rep.partition + 1, err);
    case REPORT_PARKED:
        /* Its output is in its part file; the parent writes it when its turn comes (now, if it
         * has come: a GRANT sent meanwhile is ignored by the worker). */
        pl->state[rep.partition] = PART_PARKED;
        pl->parked++;
        pl->parked_total++;
        pl->records_in += rep.stats.records_in;
        pl->records_out += rep.stats.records_out;
        if (command_or_reap(pl, w, CMD_ASSIGN, 0, err) != 0) {
            return -1;
        }
        if (rep.partition == __atomic_load_n(&pl->shared->head, __ATOMIC_ACQUIRE)) {
            return advance_head(pl, (size_t)rep.partition, err);
        }
        return 0;
    case REPORT_FAILED:
        pl->merge.broken_pipe |= rep.broken_pipe;
        report_failure(pl, w, &rep, err);
        return -1;
    default:
        return error_set(err, "worker %d sent a report of unknown kind %" PRIu32, w + 1, rep.kind);
    }
}

static int
event_loop(struct pool *pl, struct error *err)
{
    sigset_t pending;
    struct pollfd *fds = calloc((size_t)pl->n_workers, sizeof(*fds));
    int *which = calloc((size_t)pl->n_workers, sizeof(*which));
    int rc = -1;

    if (fds == NULL || which == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    for (;;) {
        static const struct timespec no_wait = {0, 0};
        int n = 0, w, ready, decoding;

        /* A stream being decoded: decode a little, hand out what it completed, then only look
         * at the workers (no wait) before decoding more. */
        decoding = !pl->planned_all && !pl->stream_full;
        if (decoding) {
            if (plan_more(pl, DECODE_BUDGET, err) != 0 || wake_idle(pl, err) != 0) {
                goto out;
            }
            decoding = !pl->planned_all && !pl->stream_full;
        }
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
        ready = ppoll(fds, (nfds_t)n, decoding ? &no_wait : NULL, &pl->old_mask);
        /* A Ctrl-C reaches the workers too: when their deaths come in with the signal still
         * pending here, say "interrupted" rather than report the deaths. */
        if (!interrupted && ready > 0 && sigpending(&pending) == 0) {
            size_t k;
            for (k = 0; k < sizeof(stop_signals) / sizeof(stop_signals[0]); k++) {
                if (sigismember(&pending, stop_signals[k])) {
                    interrupted = stop_signals[k];
                }
            }
        }
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
        release_ring(pl);
    }
    if (pl->live.n_parts > 0 && pl->state[pl->live.n_parts - 1] != PART_WRITTEN) {
        error_set(err, "internal error: the workers stopped before the last partition was written");
        goto out;
    }
    rc = 0;
out:
    free(fds);
    free(which);
    return rc;
}

/* Names the directory for part files on disk. Only named: the first worker that spills creates it
 * (most jobs never do), and the parent removes it at the end if it exists. */
static int
name_part_dir(struct pool *pl, struct error *err)
{
    const char *tmp = getenv("TMPDIR");
    char *dir;

    if (strcmp(pl->job->output, "-") == 0) {
        dir = strdup(tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    } else {
        /* Beside the output: the same file system, which a part file is copied into. */
        dir = merge_dirname(pl->job->output);
    }
    if (dir == NULL || asprintf(&pl->part_dir, "%s/.tranche-parts-%ld", dir, (long)getpid()) < 0) {
        pl->part_dir = NULL;
        free(dir);
        return error_set(err, "out of memory");
    }
    free(dir);
    return 0;
}

static int
run_forked(struct pool *pl, struct error *err)
{
    int w, rc = POOL_NOT_STARTED;
    char name[64];

    pl->n_workers = pl->opt->workers;
    if (pl->planned_all && (size_t)pl->n_workers > pl->live.n_parts) {
        pl->n_workers = (int)pl->live.n_parts;
    }
    pl->park_limit = 2 * (size_t)pl->n_workers + 2;
    pl->workers = calloc((size_t)pl->n_workers, sizeof(*pl->workers));
    pl->shared_size = sizeof(*pl->shared) + (size_t)pl->n_workers * sizeof(struct worker_progress);
    pl->shared =
        mmap(NULL, pl->shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pl->shared == MAP_FAILED) {
        pl->shared = NULL;
    }
    if (pl->workers == NULL || pl->shared == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    for (w = 0; w < pl->n_workers; w++) {
        pl->workers[w].log_fd = pl->workers[w].report_fd = pl->workers[w].cmd_fd = -1;
        pl->shared->progress[w].partition = -1;
        pl->shared->progress[w].step = -1;
    }
    for (w = 0; w < pl->n_workers; w++) {
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
    if (name_part_dir(pl, err) != 0) {
        goto out;
    }
    for (w = 0; w < pl->n_workers; w++) {
        if (spawn(pl, w, err) != 0) {
            goto out;
        }
        log_line(pl->log_fd, "started worker %d, pid %ld, log %s", w + 1, (long)pl->workers[w].pid,
                 pl->workers[w].log_path);
    }
    rc = event_loop(pl, err) == 0 ? POOL_OK : POOL_FAILED;
    if (rc == POOL_OK && pl->parked_total > 0) {
        log_line(pl->log_fd,
                 "%zu partition(s) parked in a part file on disk while an earlier one "
                 "was still running",
                 pl->parked_total);
    }
    if (rc == POOL_OK && pl->spilled > 0) {
        log_line(pl->log_fd,
                 "%zu partition(s) went through a part file on disk (their output "
                 "passed %u MiB before their turn)",
                 pl->spilled, (unsigned)(pl->spill_after >> 20));
    }
out:
    stop_all(pl);
    for (w = 0; pl->workers != NULL && w < pl->n_workers; w++) {
        if (pl->workers[w].report_fd >= 0) {
            close(pl->workers[w].report_fd);
        }
        if (pl->workers[w].cmd_fd >= 0) {
            close(pl->workers[w].cmd_fd);
        }
        if (pl->workers[w].log_fd >= 0) {
            close(pl->workers[w].log_fd);
        }
        free(pl->workers[w].log_path);
    }
    remove_part_dir(pl);
    free(pl->part_dir);
    free(pl->workers);
    if (pl->shared != NULL) {
        munmap(pl->shared, pl->shared_size);
    }
    return rc;
}

struct direct {
    struct merge *merge;
    struct out_stage stage;
};

/* The sink of the in-process mode: every partition runs in order, so it is always its turn. */
static int
direct_drain(void *arg, const char *data, size_t len, int last, size_t *taken, struct error *err)
{
    struct direct *d = arg;

    return stage_put(&d->stage, put_output, d->merge, data, len, last, taken, err);
}

/* Runs every partition (or only `only`, when >= 0) one after another in this process, straight
 * into the output; a stream is decoded as the partitions run. */
static int
run_in_process(struct pool *pl, long only, struct error *err)
{
    struct chain *chain = NULL;
    struct partition_stats stats;
    struct direct direct = {.merge = &pl->merge};
    struct chain_sink sink = {direct_drain, &direct};
    int failed_step, rc = -1;
    char where[PATH_MAX + 128];
    size_t k;

    if (stage_init(&direct.stage, pl->opt->gzip_level, err) != 0) {
        return -1;
    }
    if (chain_new(pl->steps, pl->job->n_steps, pl->job->delimiter, 0, pl->log_fd, NULL, &chain,
                  &failed_step, err) != 0) {
        stage_release(&direct.stage);
        return error_prefix(err, "%s failed to start",
                            failed_step >= 0 ? pl->steps[failed_step].label : "a step");
    }
    chain_set_stop(chain, &interrupted);
    for (k = 0;; k++) {
        const struct partition *p;
        struct chain_input in;

        while (k >= pl->live.n_parts && !pl->planned_all && !interrupted) {
            if (plan_more(pl, DECODE_BUDGET, err) != 0) {
                goto out;
            }
        }
        if (interrupted) {
            error_set(err, "interrupted by signal SIG%s", sigabbrev_np((int)interrupted));
            goto out;
        }
        if (k >= pl->live.n_parts) {
            break;
        }
        p = &pl->live.parts[k];
        if (only >= 0 && k != (size_t)only) {
            pl->state[k] = PART_WRITTEN;
            release_ring(pl);
            if (k > (size_t)only) {
                break;
            }
            continue;
        }
        input_of(pl, p, &in);
        if (chain_run(chain, p, &in, &sink, &stats, &failed_step, err) != 0) {
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
        log_line(pl->log_fd,
                 "in-process: partition %zu [%" PRIu64 ", %" PRIu64 ") of %s: records"
                 " in %" PRIu64 ", out %" PRIu64 ", %.3fs",
                 k, p->start, p->end, input_path(pl, p), stats.records_in, stats.records_out,
                 stats.nanos / 1e9);
        pl->state[k] = PART_WRITTEN;
        release_ring(pl);
    }
    if (only >= 0 && (size_t)only >= pl->live.n_parts) {
        error_set(err, "--partition %ld: the job has %zu partition(s), numbered from 0", only,
                  pl->live.n_parts);
        goto out;
    }
    rc = 0;
out:
    chain_free(chain);
    stage_release(&direct.stage);
    return rc;
}

/* Maps the ring when an input is a stream, and plans up to the first stream (decoding nothing
 * yet: that happens once the workers are there to take partitions). */
static int
start_planning(struct pool *pl, struct error *err)
{
    size_t i;
    int streams = 0;

    for (i = 0; i < pl->inputs->n; i++) {
        streams |= pl->inputs->stream[i];
    }
    if (streams) {
        int slots =
            (pl->opt->in_process || pl->opt->only_partition >= 0) ? 4 : pl->opt->workers + 2;
        if (stream_new(STREAM_RING_SIZE, &pl->stream, err) != 0) {
            return -1;
        }
        pl->stream_target = STREAM_RING_SIZE / (uint64_t)slots;
        if (pl->stream_target > pl->job->partition_size) {
            pl->stream_target = pl->job->partition_size;
        }
    }
    return plan_more(pl, 0, err);
}

/*
 * Moves the output's descriptor above 2, so that nothing a plugin prints can reach it: workers
 * point their stdout at their log, and for an output on standard output the in-process mode
 * points stdout at stderr for the run. *saved_stdout is set (and restored by the caller) then.
 */
static int
keep_output_off_stdio(struct merge *m, int *saved_stdout, struct error *err)
{
    int moved;

    if (m->fd > STDERR_FILENO) {
        return 0;
    }
    moved = fcntl(m->fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (moved < 0) {
        return error_errno(err, "cannot move the output's descriptor");
    }
    if (m->fd == STDOUT_FILENO && m->tmp_path == NULL) {
        *saved_stdout = dup(STDOUT_FILENO);
        if (*saved_stdout < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
            close(moved);
            return error_errno(err, "cannot redirect standard output");
        }
    } else {
        close(m->fd); /* a file that got a standard descriptor because that one was closed */
    }
    m->fd = moved;
    return 0;
}

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

int
pool_run(const struct job *job, const struct step *steps, const struct plan *plan,
         const struct pool_inputs *inputs, const struct pool_options *opt, struct error *err)
{
    struct pool pl;
    struct sigaction sa, old_action[3], old_pipe;
    struct timespec t0, t1;
    sigset_t stop_set;
    size_t i;
    int rc = POOL_NOT_STARTED, saved_stdout = -1;

    memset(&pl, 0, sizeof(pl));
    pl.job = job;
    pl.steps = steps;
    pl.fixed = plan;
    pl.inputs = inputs;
    pl.opt = opt;
    pl.log_fd = -1;
    pl.merge.fd = -1;
    pl.spill_after = test_knob("TRANCHE_TEST_SPILL_AFTER", SPILL_AFTER);
    pl.park_after_ms = test_knob("TRANCHE_TEST_PARK_AFTER_MS", PARK_AFTER_MS);
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (log_mkdirs(opt->log_dir, err) != 0 ||
        log_open(opt->log_dir, "tranche.log", &pl.log_fd, err) != 0) {
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
    if (keep_output_off_stdio(&pl.merge, &saved_stdout, err) != 0) {
        merge_abort(&pl.merge);
        goto out;
    }
    if (start_planning(&pl, err) != 0) {
        merge_abort(&pl.merge);
        goto out;
    }
    if (opt->only_partition >= 0) {
        rc = run_in_process(&pl, opt->only_partition, err);
    } else if (opt->in_process || (pl.planned_all && pl.live.n_parts == 0)) {
        rc = run_in_process(&pl, -1, err);
    } else {
        sigprocmask(SIG_BLOCK, &stop_set, NULL);
        rc = run_forked(&pl, err);
        sigprocmask(SIG_SETMASK, &pl.old_mask, NULL);
    }
    /* gzip output ends with BGZF's empty end-of-file block, written once every part is in. */
    if (rc == POOL_OK && opt->gzip_level > 0 &&
        merge_write(&pl.merge, bgzf_eof_block, BGZF_EOF_SIZE, err) != 0) {
        rc = POOL_FAILED;
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
    if (saved_stdout >= 0) {
        fflush(stdout);
        dup2(saved_stdout, STDOUT_FILENO);
        close(saved_stdout);
    }
    close(pl.log_fd);
    stream_free(pl.stream);
    partition_plan_release(&pl.live);
    free(pl.state);
    free(pl.owner);
    return rc;
}
