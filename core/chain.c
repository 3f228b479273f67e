/*
 * core/chain.c: the step chain and the host functions plugins call. One chain lives in one
 * single-threaded worker process, so nothing here locks.
 */
#include "chain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "grow.h"
#include "io.h"
#include "log.h"
#include "paths.h"

#define DRAIN_STEP (1u << 20) /* offer the output to the sink every time it grows this much */

struct tranche_ctx {
    struct chain *chain;
    size_t step;
    void *state;
    int initialized;
    char *scratch; /* the copy of an emitted record handed to this step (writable) */
    size_t scratch_cap;
    struct step_stats *out; /* where what it emits is counted: in chain->stats */
    /* The header row as it reaches this step (host->header): the input's for the first step,
     * what the step before made of it after (its header() at init); NULL: none. */
    char *header;
    size_t header_len;
};

struct chain {
    const struct step *steps;
    size_t n_steps;
    struct tranche_ctx *ctx;  /* one per step */
    const struct framing *fr; /* what a record is; fr->out follows each output record */
    /* What emits carry besides records: the header row on its way to the output (HEADER_RUN,
     * header_step), or a step's header row being kept for the next step (HEADER_CAPTURE). */
    enum { HEADER_NONE, HEADER_RUN, HEADER_CAPTURE } header_mode;
    char *captured;
    size_t captured_len;
    int n_captured;
    int worker_id;
    int log_fd;
    struct chain_progress *progress;
    struct chain_progress local_progress;
    struct source *source; /* where step 0's records come from */

    /* The partition being run; NULL outside chain_run. */
    const struct partition *part;
    const struct chain_sink *sink;
    char *out_buf; /* output not yet taken by the sink; grows while the sink declines it */
    size_t out_len;
    size_t out_cap;
    size_t drain_at; /* offer to the sink when out_len reaches this */
    struct partition_stats stats;
    uint64_t start_ns;   /* when the partition began */
    const char *in_path; /* its input, for messages (borrowed from chain_begin's `in`) */

    /* What record_info() returns: the partition's fields, and the input record being processed
     * (while progress->record_start is not UINT64_MAX), else the partition's offset and length
     * again. */
    struct tranche_record_info info;
    int checking; /* the parent's option check: init and fini only */

    /* Aggregation (chain_set_aggregate, chain_combine). */
    int framed;     /* output records are length-framed partials, not delimited */
    int combining;  /* the combine phase: host->phase() says so */
    char *temp_dir; /* made on the first temp_dir() call */

    const struct chain_skip *skip; /* NULL: a failing record fails the partition */
    size_t skip_next;              /* the next entry of skip->skip not yet reached */
    char *keep;                    /* on_error: skip: the record as read, before step 0 runs */
    size_t keep_cap;

    /* The first failure of the partition; a later one does not overwrite it. */
    int failed;
    int failed_step; /* -1: reading or writing, not a step */
    int positioned;  /* the message starts with its own FILE:LINE:COL (an option's value) */
    struct error err;
};

static void
vset_failure(struct chain *c, int step, int errnum, const char *fmt, va_list ap)
{
    size_t n;

    if (c->failed) {
        return;
    }
    c->failed = 1;
    c->failed_step = step;
    vsnprintf(c->err.msg, sizeof(c->err.msg), fmt, ap);
    if (errnum != 0) {
        n = strlen(c->err.msg);
        snprintf(c->err.msg + n, sizeof(c->err.msg) - n, ": %s", strerror(errnum));
    }
}

/* Records the first failure of the partition: `step` is a step index, or -1 for I/O. */
static void set_failure(struct chain *c, int step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
set_failure(struct chain *c, int step, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vset_failure(c, step, 0, fmt, ap);
    va_end(ap);
}

/* Offers the collected output to the sink; keeps it when the sink declines. */
static int
drain(struct chain *c, int last)
{
    size_t taken = 0;
    struct error err;

    if (c->sink->drain(c->sink->arg, c->out_buf, c->out_len, last, &taken, &err) != 0) {
        set_failure(c, -1, "%s", err.msg);
        return TRANCHE_ERROR;
    }
    if (taken == c->out_len) {
        c->out_len = 0;
    } else if (taken > 0) {
        memmove(c->out_buf, c->out_buf + taken, c->out_len - taken);
        c->out_len -= taken;
    }
    c->drain_at = c->out_len + DRAIN_STEP;
    return TRANCHE_OK;
}

/* Appends one partial record, framed by its length (4 bytes, little-endian): partials may hold
 * any byte, the delimiter too. */
static int __attribute__((noinline)) sink_write_framed(struct chain *c, const char *p, size_t len)
{
    c->stats.records_out++;
    c->stats.bytes_out += len + CHAIN_FRAME_HEADER;
    if (len > UINT32_MAX) {
        set_failure(c, (int)c->n_steps - 1, "a partial record of %zu bytes (at most 4 GiB - 1)",
                    len);
        return TRANCHE_ERROR;
    }
    if (GROW(c->out_buf, c->out_cap, c->out_len + len + CHAIN_FRAME_HEADER) != 0) {
        set_failure(c, -1, "out of memory for %zu bytes of output", c->out_len + len + 4);
        return TRANCHE_ERROR;
    }
    io_put_le((unsigned char *)c->out_buf + c->out_len, len, CHAIN_FRAME_HEADER);
    memcpy(c->out_buf + c->out_len + CHAIN_FRAME_HEADER, p, len);
    c->out_len += len + CHAIN_FRAME_HEADER;
    if (c->out_len >= c->drain_at && (c->skip == NULL || !c->skip->on_error_skip)) {
        return drain(c, 0);
    }
    return TRANCHE_OK;
}

/* Appends one output record and its delimiter. (Inlined into host_emit, whose cost per record it
 * is; the header row's one call does not matter.) */
static inline __attribute__((always_inline)) int
sink_write(struct chain *c, const char *p, size_t len)
{
    if (c->framed) {
        return sink_write_framed(c, p, len);
    }
    const size_t dl = c->fr->out_len;

    c->stats.records_out++;
    c->stats.bytes_out += len + dl;
    if (GROW(c->out_buf, c->out_cap, c->out_len + len + dl) != 0) {
        set_failure(c, -1, "out of memory for %zu bytes of output", c->out_len + len + dl);
        return TRANCHE_ERROR;
    }
    memcpy(c->out_buf + c->out_len, p, len);
    c->out_len += len;
    if (dl == 1) {
        c->out_buf[c->out_len++] = (char)c->fr->out[0];
    } else {
        memcpy(c->out_buf + c->out_len, c->fr->out, dl);
        c->out_len += dl;
    }
    /* (a record that may yet be taken back is offered only once it is whole: chain_record) */
    if (c->out_len >= c->drain_at && (c->skip == NULL || !c->skip->on_error_skip)) {
        return drain(c, 0);
    }
    return TRANCHE_OK;
}

/* Calls step i's record callback on a writable record, keeping progress and failure state.
 * (Inlined: it is the cost per record and per emit that the framework adds.) */
static inline __attribute__((always_inline)) int
call_step(struct chain *c, size_t i, char *data, size_t len)
{
    struct tranche_ctx *ctx = &c->ctx[i];
    int rc;

    c->progress->step = (int32_t)i;
    rc = c->steps[i].plugin->desc->record(ctx->state, ctx, data, len);
    c->progress->step = i > 0 ? (int32_t)(i - 1) : -1;
    if (rc != TRANCHE_OK || c->failed) {
        set_failure(c, (int)i, "the plugin returned an error without a message");
        return TRANCHE_ERROR;
    }
    return TRANCHE_OK;
}

/* The header row reaches step i (ABI 1.3): its header() if it has one, else on unchanged. */
static int
header_step(struct chain *c, size_t i, const void *data, size_t len)
{
    const struct tranche_plugin *d;
    struct tranche_ctx *ctx;

    while (i < c->n_steps && c->steps[i].plugin->desc->header == NULL) {
        i++;
    }
    if (i == c->n_steps) {
        return sink_write(c, data, len);
    }
    d = c->steps[i].plugin->desc;
    ctx = &c->ctx[i];
    if (GROW(ctx->scratch, ctx->scratch_cap, len + 1) != 0) {
        set_failure(c, (int)i, "out of memory for a header row of %zu bytes", len);
        return TRANCHE_ERROR;
    }
    memcpy(ctx->scratch, data, len);
    ctx->scratch[len] = '\0';
    c->progress->step = (int32_t)i;
    if (d->header(ctx->state, ctx, ctx->scratch, len) != TRANCHE_OK || c->failed) {
        set_failure(c, (int)i, "header() failed without a message");
        return TRANCHE_ERROR;
    }
    return TRANCHE_OK;
}

/* The job's header row (csv, header: true) through the steps, once, before the partition that
 * begins the output: what comes out begins it. */
static int
run_header(struct chain *c, size_t first)
{
    uint64_t records = c->stats.records_out;
    int rc;

    c->progress->record_start = UINT64_MAX;
    c->header_mode = HEADER_RUN;
    rc = header_step(c, first, c->ctx[first].header, c->ctx[first].header_len);
    c->header_mode = HEADER_NONE;
    c->stats.records_out = records; /* (its bytes are output; it is not a record) */
    c->progress->step = -1;
    return rc;
}

/* An emit while the header row is under way (header_mode): kept, the first only, for the next
 * step (HEADER_CAPTURE), or passed to the next step's header() (HEADER_RUN). */
static int __attribute__((noinline))
header_emit(struct tranche_ctx *ctx, const void *data, size_t len)
{
    struct chain *c = ctx->chain;

    if (c->header_mode == HEADER_RUN) {
        return c->failed ? TRANCHE_ERROR : header_step(c, ctx->step + 1, data, len);
    }
    if (c->n_captured++ == 0) {
        c->captured = malloc(len + 1);
        if (c->captured == NULL) {
            set_failure(c, (int)ctx->step, "out of memory for a header row of %zu bytes", len);
            return TRANCHE_ERROR;
        }
        memcpy(c->captured, data, len);
        c->captured[len] = '\0';
        c->captured_len = len;
    }
    return TRANCHE_OK;
}

static int
host_emit(tranche_ctx *ctx, const void *data, size_t len)
{
    struct chain *c = ctx->chain;
    size_t next = ctx->step + 1;
    struct tranche_ctx *nctx;

    if (c->header_mode != HEADER_NONE) {
        return header_emit(ctx, data, len);
    }
    if (c->part == NULL) {
        set_failure(c, (int)ctx->step,
                    "emit called outside record(), begin_partition(), end_partition(), "
                    "combine() and combine_end()");
        return TRANCHE_ERROR;
    }
    if (c->failed) {
        return TRANCHE_ERROR;
    }
    ctx->out->records_out++; /* (what the next step gets: its records_in, filled in at the end) */
    ctx->out->bytes_out += len;
    if (next == c->n_steps) {
        return sink_write(c, data, len);
    }
    /* The next step may change its record in place, and the emitter's buffer is only borrowed:
     * hand the next step its own copy. */
    nctx = &c->ctx[next];
    if (GROW(nctx->scratch, nctx->scratch_cap, len + 1) != 0) {
        set_failure(c, (int)next, "out of memory for a record of %zu bytes", len);
        return TRANCHE_ERROR;
    }
    memcpy(nctx->scratch, data, len);
    nctx->scratch[len] = '\0';
    return call_step(c, next, nctx->scratch, len);
}

static const char *
level_name(enum tranche_log_level level)
{
    switch (level) {
    case TRANCHE_LOG_DEBUG:
        return "DEBUG";
    case TRANCHE_LOG_INFO:
        return "INFO";
    case TRANCHE_LOG_WARN:
        return "WARN";
    case TRANCHE_LOG_ERROR:
        return "ERROR";
    }
    return "LOG";
}

static void
host_log(tranche_ctx *ctx, enum tranche_log_level level, const char *fmt, ...)
{
    struct chain *c = ctx->chain;
    char prefix[256];
    va_list ap;

    if (c->part != NULL) {
        snprintf(prefix, sizeof(prefix), "%s worker %d partition %zu %s: ", level_name(level),
                 c->worker_id, c->part->index, c->steps[ctx->step].label);
    } else {
        snprintf(prefix, sizeof(prefix), "%s worker %d %s: ", level_name(level), c->worker_id,
                 c->steps[ctx->step].label);
    }
    va_start(ap, fmt);
    log_vline(c->log_fd, prefix, fmt, ap);
    va_end(ap);
}

static int
host_error(tranche_ctx *ctx, const char *fmt, ...)
{
    struct chain *c = ctx->chain;
    int first = !c->failed;
    size_t n;
    va_list ap;

    va_start(ap, fmt);
    vset_failure(c, (int)ctx->step, 0, fmt, ap);
    va_end(ap);
    if (first && c->progress->record_start != UINT64_MAX) {
        /* Where, as a signal's report says it: the input record the step was processing. */
        n = strlen(c->err.msg);
        snprintf(c->err.msg + n, sizeof(c->err.msg) - n,
                 " (at the record starting at byte %" PRIu64 ")", c->info.offset);
    }
    return TRANCHE_ERROR;
}

/*
 * An option's value rejected by the plugin: the message points at the value (or at item `index`
 * of a list when `item`), or at the step when the value is the default.
 */
static void
option_failure(tranche_ctx *ctx, const char *name, int item, size_t index, const char *fmt,
               va_list ap)
{
    struct chain *c = ctx->chain;
    const struct step *st = &c->steps[ctx->step];
    const struct step_option *o;
    struct config_pos pos = st->pos;
    char msg[ERROR_MSG_MAX], which[64] = "";

    if (c->failed) {
        return;
    }
    if (name == NULL) {
        name = "(null)";
    }
    o = step_option_find(st, name);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (o != NULL && o->given) {
        pos = item && index < o->n_items ? o->item_pos[index] : o->value_pos;
    }
    if (item) {
        snprintf(which, sizeof(which), ", item %zu", index + 1);
    }
    if (o == NULL) {
        snprintf(which + strlen(which), sizeof(which) - strlen(which), " (not in its table)");
    } else if (!o->given) {
        snprintf(which + strlen(which), sizeof(which) - strlen(which), " (its default)");
    }
    set_failure(c, (int)ctx->step, "%s:%d:%d: %s: option '%s'%s: %s", st->file, pos.line,
                pos.column, st->label, name, which, msg);
    c->positioned = 1;
}

static int
host_option_error(tranche_ctx *ctx, const char *name, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    option_failure(ctx, name, 0, 0, fmt, ap);
    va_end(ap);
    return TRANCHE_ERROR;
}

static int
host_option_item_error(tranche_ctx *ctx, const char *name, size_t index, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    option_failure(ctx, name, 1, index, fmt, ap);
    va_end(ap);
    return TRANCHE_ERROR;
}

static const struct tranche_record_info *
host_record_info(tranche_ctx *ctx)
{
    return ctx->chain->part != NULL && !ctx->chain->combining ? &ctx->chain->info : NULL;
}

static int
host_phase(tranche_ctx *ctx)
{
    return ctx->chain->combining ? TRANCHE_PHASE_COMBINE : TRANCHE_PHASE_MAP;
}

static uint64_t
host_memory_limit(tranche_ctx *ctx)
{
    return ctx->chain->steps[ctx->step].memory;
}

/* Where temp_dir() makes a process's directory (chain_set_temp_base); NULL: nowhere. */
static const char *temp_base;

void
chain_set_temp_base(const char *dir)
{
    temp_base = dir;
}

static const char *
host_temp_dir(tranche_ctx *ctx)
{
    struct chain *c = ctx->chain;

    if (c->temp_dir == NULL && temp_base != NULL && !c->checking) {
        if (asprintf(&c->temp_dir, "%s/tmp-%ld", temp_base, (long)getpid()) < 0) {
            c->temp_dir = NULL;
            return NULL;
        }
        if (mkdir(c->temp_dir, 0700) != 0 && errno != EEXIST) {
            log_line(c->log_fd, "cannot make %s: %s", c->temp_dir, strerror(errno));
            free(c->temp_dir);
            c->temp_dir = NULL;
        }
    }
    return c->temp_dir;
}

static int
host_is_option_check(tranche_ctx *ctx)
{
    return ctx->chain->checking;
}

static const struct step_option *
option(tranche_ctx *ctx, const char *name)
{
    const struct step_option *o = step_option_find(&ctx->chain->steps[ctx->step], name);

    return (o != NULL && o->set) ? o : NULL;
}

static const char *
host_opt_string(tranche_ctx *ctx, const char *name)
{
    const struct step_option *o = option(ctx, name);

    return (o != NULL && o->n_items > 0) ? o->items[0] : NULL;
}

static int64_t
host_opt_int(tranche_ctx *ctx, const char *name)
{
    const struct step_option *o = option(ctx, name);

    return o != NULL ? o->int_value : 0;
}

static int
host_opt_bool(tranche_ctx *ctx, const char *name)
{
    const struct step_option *o = option(ctx, name);

    return o != NULL ? o->bool_value : 0;
}

static size_t
host_opt_list_len(tranche_ctx *ctx, const char *name)
{
    const struct step_option *o = option(ctx, name);

    return o != NULL ? o->n_items : 0;
}

static const char *
host_opt_list_item(tranche_ctx *ctx, const char *name, size_t index)
{
    const struct step_option *o = option(ctx, name);

    return (o != NULL && index < o->n_items) ? o->items[index] : NULL;
}

static const struct tranche_format *
host_format(tranche_ctx *ctx)
{
    return &ctx->chain->fr->pub;
}

static const char *
host_header(tranche_ctx *ctx, size_t *len)
{
    if (len != NULL) {
        *len = ctx->header != NULL ? ctx->header_len : 0;
    }
    return ctx->header;
}

/*
 * After step i's init: the header row step i + 1 will see, which is what step i's header() emits
 * first (none: the steps after it see no header), or step i's own when it has no header().
 */
static int
capture_header(struct chain *c, size_t i)
{
    const struct tranche_plugin *d = c->steps[i].plugin->desc;
    struct tranche_ctx *ctx = &c->ctx[i], *next = &c->ctx[i + 1];
    char *copy;

    if (ctx->header == NULL) {
        return 0;
    }
    copy = malloc(ctx->header_len + 1);
    if (copy == NULL) {
        set_failure(c, (int)i, "out of memory for a header row");
        return -1;
    }
    memcpy(copy, ctx->header, ctx->header_len + 1);
    if (d->header == NULL) {
        next->header = copy;
        next->header_len = ctx->header_len;
        return 0;
    }
    c->header_mode = HEADER_CAPTURE;
    c->n_captured = 0;
    c->captured = NULL;
    c->progress->step = (int32_t)i;
    if (d->header(ctx->state, ctx, copy, ctx->header_len) != TRANCHE_OK || c->failed) {
        set_failure(c, (int)i, "header() failed without a message");
    }
    c->header_mode = HEADER_NONE;
    free(copy);
    next->header = c->captured;
    next->header_len = c->captured_len;
    c->captured = NULL;
    return c->failed ? -1 : 0;
}

static const struct tranche_host host_table = {
    .size = sizeof(struct tranche_host),
    .abi_major = TRANCHE_ABI_MAJOR,
    .abi_minor = TRANCHE_ABI_MINOR,
    .emit = host_emit,
    .log = host_log,
    .error = host_error,
    .opt_string = host_opt_string,
    .opt_int = host_opt_int,
    .opt_bool = host_opt_bool,
    .opt_list_len = host_opt_list_len,
    .opt_list_item = host_opt_list_item,
    .record_info = host_record_info,
    .is_option_check = host_is_option_check,
    .option_error = host_option_error,
    .option_item_error = host_option_item_error,
    .phase = host_phase,
    .memory_limit = host_memory_limit,
    .temp_dir = host_temp_dir,
    .format = host_format,
    .header = host_header,
};

/* chain_new, and with `checking` the parent's option check. */
enum chain_mode { MODE_WORKER, MODE_CHECK, MODE_COMBINE };

static int
chain_make(const struct step *steps, size_t n_steps, const struct framing *fr, int worker_id,
           int log_fd, struct chain_progress *progress, enum chain_mode mode, const char *header,
           size_t header_len, struct chain **out, int *failed_step, struct error *err)
{
    struct chain *c = calloc(1, sizeof(*c));
    size_t i;

    *failed_step = -1;
    if (c == NULL) {
        return error_set(err, "out of memory");
    }
    c->checking = mode == MODE_CHECK;
    c->combining = mode == MODE_COMBINE;
    c->info.size = sizeof(c->info);
    c->steps = steps;
    c->n_steps = n_steps;
    c->fr = fr;
    c->worker_id = worker_id;
    c->log_fd = log_fd;
    c->progress = progress != NULL ? progress : &c->local_progress;
    c->progress->partition = -1;
    c->progress->step = -1;
    c->progress->record_start = UINT64_MAX; /* no record until chain_run feeds one */
    c->ctx = calloc(n_steps, sizeof(*c->ctx));
    c->out_cap = 2 * DRAIN_STEP;
    c->out_buf = malloc(c->out_cap);
    if (c->ctx == NULL || c->out_buf == NULL) {
        chain_free(c);
        return error_set(err, "out of memory");
    }
    if (source_new(fr, &c->source, err) != 0) {
        chain_free(c);
        return -1;
    }
    for (i = 0; i < n_steps; i++) {
        c->ctx[i].chain = c;
        c->ctx[i].step = i;
        c->ctx[i].out = &c->stats.steps[i < CHAIN_STATS_STEPS ? i : CHAIN_STATS_STEPS - 1];
    }
    if (header != NULL && n_steps > 0) {
        c->ctx[0].header = malloc(header_len + 1);
        if (c->ctx[0].header == NULL) {
            chain_free(c);
            return error_set(err, "out of memory");
        }
        memcpy(c->ctx[0].header, header, header_len);
        c->ctx[0].header[header_len] = '\0';
        c->ctx[0].header_len = header_len;
    }
    for (i = 0; i < n_steps; i++) {
        const struct tranche_plugin *d = steps[i].plugin->desc;
        int rc = TRANCHE_OK;

        c->progress->step = (int32_t)i;
        if (d->init != NULL) {
            rc = d->init(&c->ctx[i], &host_table, &c->ctx[i].state);
        }
        if (rc == TRANCHE_OK && !c->failed && i + 1 < n_steps && capture_header(c, i) != 0) {
            c->ctx[i].initialized = 1; /* (its fini still runs) */
            *failed_step = c->positioned ? -1 : (int)i;
            error_set(err, "%s", c->err.msg);
            chain_free(c);
            return -1;
        }
        c->progress->step = -1;
        if (rc != TRANCHE_OK || c->failed) {
            set_failure(c, (int)i, "init failed without a message");
            /* (a message at an option's value carries its own position and step) */
            *failed_step = c->positioned ? -1 : (int)i;
            error_set(err, "%s", c->err.msg);
            chain_free(c);
            return -1;
        }
        c->ctx[i].initialized = 1;
    }
    *out = c;
    return 0;
}

int
chain_new(const struct step *steps, size_t n_steps, const struct framing *fr, int worker_id,
          int log_fd, struct chain_progress *progress, struct chain **out, int *failed_step,
          struct error *err)
{
    return chain_make(steps, n_steps, fr, worker_id, log_fd, progress, MODE_WORKER, fr->header_row,
                      fr->header_len, out, failed_step, err);
}

int
chain_check(const struct step *steps, size_t n_steps, const struct framing *fr,
            struct chain_progress *progress, int *failed_step, struct error *err)
{
    struct chain *c = NULL;

    if (chain_make(steps, n_steps, fr, 0, -1, progress, MODE_CHECK, fr->header_row, fr->header_len,
                   &c, failed_step, err) != 0) {
        return -1;
    }
    return chain_finish(c, failed_step, err);
}

/* Leaves a record out: reject() gets it. */
static int reject(struct chain *c, uint64_t offset, const char *data, size_t len, int step,
                  const char *why);

int
chain_ctx_skipping(tranche_ctx *ctx)
{
    const struct chain *c = ctx->chain;

    return c->part != NULL && !c->combining && c->skip != NULL && c->skip->on_error_skip &&
           c->skip->only < 0;
}

void
chain_ctx_mark(tranche_ctx *ctx, struct chain_mark *m)
{
    const struct chain *c = ctx->chain;

    m->out_len = c->out_len;
    m->records_out = c->stats.records_out;
    m->bytes_out = c->stats.bytes_out;
}

void
chain_ctx_take_back(tranche_ctx *ctx, const struct chain_mark *m)
{
    struct chain *c = ctx->chain;

    /* (under on_error: skip, output is only offered to the sink between records: all of it
     * since the mark is still here) */
    if (m->out_len <= c->out_len) {
        c->out_len = m->out_len;
    }
    c->stats.records_out = m->records_out;
    c->stats.bytes_out = m->bytes_out;
    c->failed = 0;
    c->failed_step = -1;
}

int
chain_ctx_reject(tranche_ctx *ctx, uint64_t offset, const char *data, size_t len, const char *why)
{
    struct chain *c = ctx->chain;

    log_line(c->log_fd,
             "worker %d: partition %zu: skipped the record at byte %" PRIu64 " (%zu bytes): %s: %s",
             c->worker_id, c->part->index, offset, len, c->steps[ctx->step].label, why);
    return reject(c, offset, data, len, (int)ctx->step, why) == 0 ? TRANCHE_OK : TRANCHE_ERROR;
}

static int
reject(struct chain *c, uint64_t offset, const char *data, size_t len, int step, const char *why)
{
    struct chain_reject rej = {offset, data, len, step, why};
    struct error err;

    c->stats.skipped++;
    if (c->skip->reject != NULL && c->skip->reject(c->skip->arg, &rej, &err) != 0) {
        set_failure(c, -1, "%s", err.msg);
        return -1;
    }
    return 0;
}

/* A record under on_error: skip: run as usual, but when a step fails on it, what the steps
 * emitted for it is taken back and it is rejected instead. */
static int
record_or_reject(struct chain *c, char *data, size_t len, uint64_t offset)
{
    size_t out_mark = c->out_len;
    uint64_t records_mark = c->stats.records_out, bytes_mark = c->stats.bytes_out;
    char reason[ERROR_MSG_MAX];
    int step;

    if (GROW(c->keep, c->keep_cap, len + 1) != 0) {
        set_failure(c, 0, "out of memory for a record of %zu bytes", len);
        return -1;
    }
    memcpy(c->keep, data, len); /* (step 0 may change the record in place) */
    if (call_step(c, 0, data, len) == TRANCHE_OK) {
        return c->out_len >= c->drain_at && drain(c, 0) != TRANCHE_OK ? -1 : 0;
    }
    if (c->failed_step < 0) {
        return -1; /* the output could not be written: not the record's fault */
    }
    c->out_len = out_mark;
    c->stats.records_out = records_mark;
    c->stats.bytes_out = bytes_mark;
    step = c->failed_step;
    snprintf(reason, sizeof(reason), "%s", c->err.msg);
    c->failed = 0;
    c->failed_step = -1;
    c->progress->step = -1;
    log_line(c->log_fd,
             "worker %d: partition %zu: skipped the record at byte %" PRIu64 " (%zu bytes): %s: %s",
             c->worker_id, c->part->index, offset, len, c->steps[step].label, reason);
    return reject(c, offset, c->keep, len, step, reason);
}

/* A record under a chain_skip: a probe's, one to leave out unrun, or one under on_error: skip.
 * (Apart from chain_record, so that the usual path stays as short as it was.) */
static int __attribute__((noinline))
record_skipping(struct chain *c, char *data, size_t len, uint64_t offset)
{
    const struct chain_skip *sk = c->skip;

    if (sk->only >= 0) {
        return (uint64_t)sk->only == offset && call_step(c, 0, data, len) != TRANCHE_OK ? -1 : 0;
    }
    while (c->skip_next < sk->n_skip && sk->skip[c->skip_next].offset < offset) {
        c->skip_next++;
    }
    if (c->skip_next < sk->n_skip && sk->skip[c->skip_next].offset == offset) {
        const struct chain_skip_entry *e = &sk->skip[c->skip_next++];
        size_t i, upto = e->step > 0 ? (size_t)e->step : 0;
        c->stats.skipped_unrun++;
        /* Counted as the attempt that died of it went: through the steps before the one it
         * killed (by its input length: what they made of it is not known), into that one. */
        for (i = 0; i < upto && i < c->n_steps; i++) {
            c->ctx[i].out->records_out++;
            c->ctx[i].out->bytes_out += len;
        }
        log_line(c->log_fd,
                 "worker %d: partition %zu: skipped the record at byte %" PRIu64
                 " (%zu bytes), not run: %s",
                 c->worker_id, c->part->index, offset, len, e->reason);
        return reject(c, offset, data, len, e->step, e->reason);
    }
    if (sk->on_error_skip) {
        return record_or_reject(c, data, len, offset);
    }
    return call_step(c, 0, data, len) == TRANCHE_OK ? 0 : -1;
}

/* The source's record callback: one record into step 0. */
static int
chain_record(void *arg, char *data, size_t len, uint64_t offset)
{
    struct chain *c = arg;
    int rc;

    c->progress->record_start = offset;
    c->stats.records_in++;
    c->stats.bytes_in += len + c->fr->out_len; /* (its delimiter or line end) */
    c->info.offset = offset;
    c->info.length = len;
    if (c->skip != NULL) {
        return record_skipping(c, data, len, offset);
    }
    rc = call_step(c, 0, data, len);
    return rc == TRANCHE_OK ? 0 : -1;
}

/* Malformed input under on_error: skip: left out like a record a step fails on. */
static int
chain_bad_record(void *arg, const char *data, size_t len, uint64_t offset, const char *why)
{
    struct chain *c = arg;
    char reason[ERROR_MSG_MAX];

    c->stats.records_in++;
    c->stats.bytes_in += len;
    snprintf(reason, sizeof(reason), "malformed %s record: %s", framing_kind_name(c->fr->kind),
             why);
    log_line(c->log_fd,
             "worker %d partition %zu: skipped the bytes at offset %" PRIu64 " (%zu): %s",
             c->worker_id, c->part != NULL ? c->part->index : 0, offset, len, reason);
    return reject(c, offset, data, len, -1, reason);
}

/* record_info's fields outside a record: the partition's. */
static void
info_partition(struct chain *c, const struct partition *p, const struct source_input *in)
{
    c->info.input_path = in->input->is_stdin ? "-" : in->input->path; /* (as the job named it) */
    c->info.input_index = p->file;
    c->info.partition = p->number;
    c->info.partition_offset = p->start;
    c->info.partition_length = p->end - p->start;
    c->info.offset = p->start;
    c->info.length = c->info.partition_length;
}

/*
 * Calls each step's begin_partition, from the last step to the first, or its end_partition, from
 * the first to the last: either way, what step i emits there reaches steps after it that have
 * begun the partition and not yet ended it.
 */
static int
partition_callbacks(struct chain *c, int begin)
{
    size_t k;

    c->progress->record_start = UINT64_MAX; /* no record: a crash here is not in one */
    for (k = 0; k < c->n_steps; k++) {
        size_t i = begin ? c->n_steps - 1 - k : k;
        const struct tranche_plugin *d = c->steps[i].plugin->desc;
        int (*fn)(void *, tranche_ctx *) = begin ? d->begin_partition : d->end_partition;

        if (fn == NULL) {
            continue;
        }
        c->progress->step = (int32_t)i;
        if (fn(c->ctx[i].state, &c->ctx[i]) != TRANCHE_OK || c->failed) {
            set_failure(c, (int)i, "%s failed without a message",
                        begin ? "begin_partition" : "end_partition");
            return -1;
        }
    }
    c->progress->step = -1;
    return 0;
}

/* Feeds the partition's records to step 0 (record_info is the partition's again in chain_end). */
static int
read_records(struct chain *c, const struct partition *p, const struct source_input *in)
{
    struct error read_err;
    int rc = source_read(c->source, p, in, chain_record, c, &read_err);

    if (rc != 0) {
        set_failure(c, -1, "%s", read_err.msg); /* (unless a step failed first) */
    }
    return rc;
}

/* Each step's records and bytes in are what the step before it emitted (step 0's: the records
 * read); only emits are counted as they happen. */
static void
step_inputs(struct chain *c)
{
    struct partition_stats *st = &c->stats;
    size_t i, n = c->n_steps < CHAIN_STATS_STEPS ? c->n_steps : CHAIN_STATS_STEPS;

    st->steps[0].records_in = st->records_in;
    st->steps[0].bytes_in = st->bytes_in - st->records_in * c->fr->out_len;
    for (i = 1; i < n; i++) {
        st->steps[i].records_in = st->steps[i - 1].records_out;
        st->steps[i].bytes_in = st->steps[i - 1].bytes_out;
    }
}

int
chain_begin(struct chain *c, const struct partition *p, const struct source_input *in,
            const struct chain_sink *sink)
{
    c->start_ns = clock_now_ns();
    c->in_path = in->input->path;
    c->part = p;
    c->sink = sink;
    c->out_len = 0;
    c->drain_at = DRAIN_STEP;
    c->failed = 0;
    c->failed_step = -1;
    c->skip_next = 0;
    memset(&c->stats, 0, sizeof(c->stats));
    c->progress->partition = (int64_t)p->index;
    info_partition(c, p, in);
    if ((p->number > 0 || c->ctx[0].header == NULL || c->framed || run_header(c, 0) == 0) &&
        partition_callbacks(c, 1) == 0) {
        return 0;
    }
    return -1;
}

int
chain_put(struct chain *c, char *data, size_t len, uint64_t offset)
{
    return chain_record(c, data, len, offset);
}

int
chain_put_malformed(struct chain *c, const char *data, size_t len, uint64_t offset, const char *why)
{
    if (c->skip == NULL || !c->skip->on_error_skip) {
        set_failure(c, -1, "%s: malformed %s record at byte offset %" PRIu64 ": %s", c->in_path,
                    framing_kind_name(c->fr->kind), offset, why);
        return -1;
    }
    return chain_bad_record(c, data, len, offset, why);
}

int
chain_flush(struct chain *c)
{
    if (c->out_len == 0) {
        return 0;
    }
    return drain(c, 0) == TRANCHE_OK ? 0 : -1;
}

int
chain_end(struct chain *c, int ok, struct partition_stats *stats, int *failed_step,
          struct error *err)
{
    int rc = -1;

    c->info.offset = c->part->start;
    c->info.length = c->part->end - c->part->start;
    if (ok && partition_callbacks(c, 0) == 0 && drain(c, 1) == TRANCHE_OK) {
        rc = 0;
    }
    c->stats.nanos = clock_now_ns() - c->start_ns;
    step_inputs(c);
    *stats = c->stats;
    c->part = NULL;
    c->progress->partition = -1;
    c->progress->step = -1;
    if (rc != 0) {
        *failed_step = c->failed_step;
        error_set(err, "%s", c->err.msg);
    }
    return rc;
}

int
chain_run(struct chain *c, const struct partition *p, const struct source_input *in,
          const struct chain_sink *sink, struct partition_stats *stats, int *failed_step,
          struct error *err)
{
    int ok = chain_begin(c, p, in, sink) == 0 && read_records(c, p, in) == 0;

    return chain_end(c, ok, stats, failed_step, err);
}

void
chain_pending(const struct chain *c, const char **data, size_t *len)
{
    *data = c->out_buf;
    *len = c->out_len;
}

void
chain_set_skip(struct chain *c, const struct chain_skip *skip)
{
    c->skip = skip;
    source_set_bad(c->source, skip != NULL && skip->on_error_skip ? chain_bad_record : NULL);
}

void
chain_set_stop(struct chain *c, const volatile sig_atomic_t *stop)
{
    source_set_stop(c->source, stop);
}

void
chain_remove_temp_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        return;
    }
    path_empty_dir(fd);
    close(fd);
    rmdir(dir);
}

void
chain_set_framed(struct chain *c, int framed)
{
    c->framed = framed;
}

int
chain_new_combine(const struct step *steps, size_t n_steps, const struct framing *fr, int log_fd,
                  struct chain **out, struct error *err)
{
    const struct step *step = &steps[n_steps - 1];
    struct chain *map = NULL;
    const char *header = fr->header_row;
    size_t header_len = fr->header_len;
    int failed_step, rc;

    /* The header row as the steps before the aggregator made it: they start (and finish) here
     * once more, as in a worker, to say. */
    if (header != NULL && n_steps > 1) {
        if (chain_make(steps, n_steps, fr, -1, log_fd, NULL, MODE_WORKER, header, header_len, &map,
                       &failed_step, err) != 0) {
            return error_prefix(err, "%s failed to start its combine phase", step->label);
        }
        header = map->ctx[n_steps - 1].header;
        header_len = map->ctx[n_steps - 1].header_len;
    }
    rc = chain_make(step, 1, fr, -1, log_fd, NULL, MODE_COMBINE, header, header_len, out,
                    &failed_step, err);
    if (map != NULL && chain_finish(map, &failed_step, err) != 0 && rc == 0) {
        chain_free(*out);
        rc = -1;
    }
    return rc != 0 ? error_prefix(err, "%s failed to start its combine phase", step->label) : 0;
}

/* Makes room for `need` bytes from buf[*pos] on, reading more of fd behind what is there. Sets
 * *eof when fd has no more. */
static int
fill(int fd, char **buf, size_t *cap, size_t *pos, size_t *len, size_t need, int *eof,
     struct error *err)
{
    ssize_t n;

    if (*pos > 0) {
        memmove(*buf, *buf + *pos, *len - *pos);
        *len -= *pos;
        *pos = 0;
    }
    if (GROW(*buf, *cap, need) != 0) {
        return error_set(err, "out of memory for a partial record of %zu bytes", need);
    }
    while (*len < need && !*eof) {
        n = io_read_full(fd, *buf + *len, *cap - *len);
        if (n < 0) {
            return error_errno(err, "cannot read the partials");
        }
        *eof = (size_t)n < *cap - *len;
        *len += (size_t)n;
    }
    return 0;
}

int
chain_combine(struct chain *c, int fd, const struct chain_sink *sink,
              const volatile sig_atomic_t *stop, struct partition_stats *stats, struct error *err)
{
    static const struct partition whole; /* (emit needs a partition; combine has none) */
    const struct tranche_plugin *d = c->steps[0].plugin->desc;
    struct tranche_ctx *ctx = &c->ctx[0];
    char *buf = NULL, *data, saved;
    size_t cap = 0, pos = 0, len = 0, n;
    int eof = 0, rc = -1;

    c->part = &whole;
    c->sink = sink;
    c->out_len = 0;
    c->drain_at = DRAIN_STEP;
    c->failed = 0;
    memset(&c->stats, 0, sizeof(c->stats));
    c->progress->step = 0;
    if (d->header != NULL && c->ctx[0].header != NULL && run_header(c, 0) != 0) {
        goto failed;
    }
    for (;;) {
        if (len - pos < CHAIN_FRAME_HEADER &&
            fill(fd, &buf, &cap, &pos, &len, 1u << 20, &eof, err) != 0) {
            goto out;
        }
        if (len - pos == 0) {
            break;
        }
        if (len - pos < CHAIN_FRAME_HEADER) {
            error_set(err, "the partials end inside a record's header (%zu bytes)", len - pos);
            goto out;
        }
        n = (size_t)io_get_le((const unsigned char *)buf + pos, CHAIN_FRAME_HEADER);
        if (len - pos < CHAIN_FRAME_HEADER + n + 1 &&
            fill(fd, &buf, &cap, &pos, &len, CHAIN_FRAME_HEADER + n + 1, &eof, err) != 0) {
            goto out;
        }
        if (len - pos < CHAIN_FRAME_HEADER + n) {
            error_set(err, "the partials end inside a record of %zu bytes", n);
            goto out;
        }
        if (stop != NULL && *stop) {
            error_set(err, "interrupted");
            goto out;
        }
        data = buf + pos + CHAIN_FRAME_HEADER;
        saved = data[n];
        data[n] = '\0';
        if (d->combine(ctx->state, ctx, data, n) != TRANCHE_OK || c->failed) {
            set_failure(c, 0, "combine() failed without a message");
            goto failed;
        }
        data[n] = saved;
        pos += CHAIN_FRAME_HEADER + n;
        c->stats.records_in++;
        c->stats.bytes_in += n;
    }
    if (d->combine_end != NULL && (d->combine_end(ctx->state, ctx) != TRANCHE_OK || c->failed)) {
        set_failure(c, 0, "combine_end() failed without a message");
        goto failed;
    }
    if (drain(c, 1) != TRANCHE_OK) {
        goto failed;
    }
    rc = 0;
    goto out;
failed:
    error_set(err, "%s", c->err.msg);
out:
    *stats = c->stats;
    c->progress->step = -1;
    c->part = NULL;
    free(buf);
    return rc;
}

/* Calls fini() of every step whose init() succeeded, in order. */
static void
chain_free_steps(struct chain *c)
{
    size_t i;

    for (i = 0; c->ctx != NULL && i < c->n_steps; i++) {
        const struct tranche_plugin *d = c->steps[i].plugin->desc;
        if (c->ctx[i].initialized && d->fini != NULL) {
            c->progress->step = (int32_t)i;
            d->fini(c->ctx[i].state);
            c->progress->step = -1;
        }
        c->ctx[i].initialized = 0;
    }
}

/* Frees what the chain holds. */
static void
chain_release(struct chain *c)
{
    size_t i;

    for (i = 0; c->ctx != NULL && i < c->n_steps; i++) {
        free(c->ctx[i].scratch);
        free(c->ctx[i].header);
    }
    free(c->ctx);
    free(c->out_buf);
    free(c->keep);
    source_free(c->source);
    if (c->temp_dir != NULL) {
        chain_remove_temp_dir(c->temp_dir);
        free(c->temp_dir);
    }
    free(c);
}

int
chain_finish(struct chain *c, int *failed_step, struct error *err)
{
    int rc = 0;

    *failed_step = -1;
    if (c == NULL) {
        return 0;
    }
    c->failed = 0;
    chain_free_steps(c);
    if (c->failed) {
        *failed_step = c->failed_step;
        rc = error_set(err, "%s", c->err.msg);
    }
    chain_release(c);
    return rc;
}

void
chain_free(struct chain *c)
{
    if (c == NULL) {
        return;
    }
    chain_free_steps(c);
    chain_release(c);
}
