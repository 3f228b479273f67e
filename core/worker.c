/*
 * core/worker.c: the step chain and the host functions plugins call. One chain lives in one
 * single-threaded worker process, so nothing here locks.
 */
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bgzf.h"
#include "gzindex.h"
#include "gzread.h"
#include "log.h"

#define READ_BUF_SIZE (1u << 20)
#define TAIL_STEP (64u << 10) /* read past a partition in steps this small */
#define DRAIN_STEP (1u << 20) /* offer the output to the sink every time it grows this much */

struct tranche_ctx {
    struct chain *chain;
    size_t step;
    void *state;
    int initialized;
    char *scratch; /* the copy of an emitted record handed to this step (writable) */
    size_t scratch_cap;
};

struct chain {
    const struct step *steps;
    size_t n_steps;
    struct tranche_ctx *ctx; /* one per step */
    unsigned char delimiter;
    int worker_id;
    int log_fd;
    struct worker_progress *progress;
    struct worker_progress local_progress;
    const volatile sig_atomic_t *stop; /* non-zero: give up between buffers */
    struct bgzf_decoder *decoder;      /* for BGZF inputs, made on first use */
    struct gz_reader *reader;          /* for indexed gzip inputs: the last one read */
    int reader_fd;
    struct gz_segment_decoder *segments; /* the same, whole segments at a time (libdeflate) */
    int segments_made;
    unsigned char *window;

    /* The partition being run; NULL outside chain_run. */
    const struct partition *part;
    const struct chain_sink *sink;
    char *out_buf; /* output not yet taken by the sink; grows while the sink declines it */
    size_t out_len;
    size_t out_cap;
    size_t drain_at; /* offer to the sink when out_len reaches this */
    struct partition_stats stats;

    /* The first failure of the partition; a later one does not overwrite it. */
    int failed;
    int failed_step; /* -1: reading or writing, not a step */
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

/* The same for an I/O failure, with strerror(errno) appended. Returns TRANCHE_ERROR. */
static int io_failure(struct chain *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int
io_failure(struct chain *c, const char *fmt, ...)
{
    int errnum = errno;
    va_list ap;

    va_start(ap, fmt);
    vset_failure(c, -1, errnum, fmt, ap);
    va_end(ap);
    return TRANCHE_ERROR;
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

/* Appends one output record and its delimiter. */
static int
sink_write(struct chain *c, const char *p, size_t len)
{
    c->stats.records_out++;
    c->stats.bytes_out += len + 1;
    if (len + 1 > c->out_cap - c->out_len) {
        size_t cap = c->out_cap * 2;
        char *grown;
        while (cap - c->out_len < len + 1) {
            cap *= 2;
        }
        grown = realloc(c->out_buf, cap);
        if (grown == NULL) {
            set_failure(c, -1, "out of memory for %zu bytes of output", cap);
            return TRANCHE_ERROR;
        }
        c->out_buf = grown;
        c->out_cap = cap;
    }
    memcpy(c->out_buf + c->out_len, p, len);
    c->out_len += len;
    c->out_buf[c->out_len++] = (char)c->delimiter;
    if (c->out_len >= c->drain_at) {
        return drain(c, 0);
    }
    return TRANCHE_OK;
}

/* Calls step i's record callback on a writable record, keeping progress and failure state. */
static int
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

static int
host_emit(tranche_ctx *ctx, const void *data, size_t len)
{
    struct chain *c = ctx->chain;
    size_t next = ctx->step + 1;
    struct tranche_ctx *nctx;

    if (c->part == NULL) {
        set_failure(c, (int)ctx->step, "emit called outside record() and end_partition()");
        return TRANCHE_ERROR;
    }
    if (c->failed) {
        return TRANCHE_ERROR;
    }
    if (next == c->n_steps) {
        return sink_write(c, data, len);
    }
    /* The next step may change its record in place, and the emitter's buffer is only borrowed:
     * hand the next step its own copy. */
    nctx = &c->ctx[next];
    if (len + 1 > nctx->scratch_cap) {
        size_t cap = nctx->scratch_cap ? nctx->scratch_cap : 4096;
        char *grown;
        while (cap < len + 1) {
            cap *= 2;
        }
        grown = realloc(nctx->scratch, cap);
        if (grown == NULL) {
            set_failure(c, (int)next, "out of memory for a record of %zu bytes", len);
            return TRANCHE_ERROR;
        }
        nctx->scratch = grown;
        nctx->scratch_cap = cap;
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
    va_list ap;

    va_start(ap, fmt);
    vset_failure(ctx->chain, (int)ctx->step, 0, fmt, ap);
    va_end(ap);
    return TRANCHE_ERROR;
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
};

int
chain_new(const struct step *steps, size_t n_steps, unsigned char delimiter, int worker_id,
          int log_fd, struct worker_progress *progress, struct chain **out, int *failed_step,
          struct error *err)
{
    struct chain *c = calloc(1, sizeof(*c));
    size_t i;

    *failed_step = -1;
    if (c == NULL) {
        return error_set(err, "out of memory");
    }
    c->steps = steps;
    c->n_steps = n_steps;
    c->delimiter = delimiter;
    c->worker_id = worker_id;
    c->log_fd = log_fd;
    c->progress = progress != NULL ? progress : &c->local_progress;
    c->progress->partition = -1;
    c->progress->step = -1;
    c->ctx = calloc(n_steps, sizeof(*c->ctx));
    c->out_cap = 2 * DRAIN_STEP;
    c->out_buf = malloc(c->out_cap);
    if (c->ctx == NULL || c->out_buf == NULL) {
        chain_free(c);
        return error_set(err, "out of memory");
    }
    for (i = 0; i < n_steps; i++) {
        c->ctx[i].chain = c;
        c->ctx[i].step = i;
    }
    for (i = 0; i < n_steps; i++) {
        const struct tranche_plugin *d = steps[i].plugin->desc;
        int rc = TRANCHE_OK;

        c->progress->step = (int32_t)i;
        if (d->init != NULL) {
            rc = d->init(&c->ctx[i], &host_table, &c->ctx[i].state);
        }
        c->progress->step = -1;
        if (rc != TRANCHE_OK || c->failed) {
            set_failure(c, (int)i, "init failed without a message");
            *failed_step = (int)i;
            error_set(err, "%s", c->err.msg);
            chain_free(c);
            return -1;
        }
        c->ctx[i].initialized = 1;
    }
    *out = c;
    return 0;
}

static uint64_t
now_nanos(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Feeds the complete records in buf[0, len) to step 0; sets how many bytes were consumed. */
static int
feed(struct chain *c, char *buf, size_t len, uint64_t buf_offset, int last, size_t *consumed)
{
    const unsigned char delim = c->delimiter;
    size_t pos = 0;

    while (pos < len) {
        char *hit = memchr(buf + pos, delim, len - pos);
        size_t rec_len;

        if (hit == NULL) {
            if (!last) {
                break;
            }
            rec_len = len - pos; /* the last record of a file without a final delimiter */
        } else {
            rec_len = (size_t)(hit - (buf + pos));
        }
        c->progress->record_start = buf_offset + pos;
        c->stats.records_in++;
        if (call_step(c, 0, buf + pos, rec_len) != TRANCHE_OK) {
            return -1;
        }
        pos += rec_len + (hit != NULL);
    }
    *consumed = pos;
    return 0;
}

/* Reads [p->start, p->end) in buffers and feeds its records; a record longer than the buffer
 * grows it. Returns 0 or -1 (the failure is in c). */
static int
read_partition(struct chain *c, const struct partition *p, int in_fd, const char *in_path)
{
    size_t cap = READ_BUF_SIZE, have = 0, consumed;
    char *buf = malloc(cap + 1);
    uint64_t pos = p->start;
    int rc = -1;

    if (buf == NULL) {
        set_failure(c, -1, "out of memory");
        return -1;
    }
    while (pos < p->end || have > 0) {
        size_t want = cap - have;

        if (c->stop != NULL && *c->stop) {
            set_failure(c, -1, "interrupted");
            goto out;
        }
        if (want > p->end - pos) {
            want = (size_t)(p->end - pos);
        }
        while (want > 0) {
            ssize_t n = pread(in_fd, buf + have, want, (off_t)pos);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                io_failure(c, "cannot read %s at byte offset %" PRIu64, in_path, pos);
                goto out;
            }
            if (n == 0) {
                set_failure(c, -1,
                            "%s ended at byte offset %" PRIu64 " while reading (did the "
                            "file change during the job?)",
                            in_path, pos);
                goto out;
            }
            have += (size_t)n;
            pos += (uint64_t)n;
            want -= (size_t)n;
        }
        if (feed(c, buf, have, pos - have, pos == p->end, &consumed) != 0) {
            goto out;
        }
        if (consumed == 0 && have == cap) {
            char *grown = realloc(buf, cap * 2 + 1);
            if (grown == NULL) {
                set_failure(c, -1, "out of memory for a record over %zu bytes", cap);
                goto out;
            }
            buf = grown;
            cap *= 2;
        }
        memmove(buf, buf + consumed, have - consumed);
        have -= consumed;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

/* Grows buf so that `room` more bytes fit after `have`. */
static int
reserve(struct chain *c, char **buf, size_t *cap, size_t have, size_t room)
{
    size_t want = *cap;
    char *grown;

    if (*cap - have >= room) {
        return 0;
    }
    while (want - have < room) {
        want *= 2;
    }
    grown = realloc(*buf, want + 1);
    if (grown == NULL) {
        set_failure(c, -1, "out of memory for %zu bytes of input", want);
        return -1;
    }
    *buf = grown;
    *cap = want;
    return 0;
}

/*
 * The ownership rule over decoded bytes, which do not start or end at records: buf[0, *have)
 * holds the decompressed bytes from offset *base on. While *skipping, drops the bytes up to the
 * first delimiter (a record that began before the partition). Then feeds the complete records;
 * when `bounded`, the last is the one that starts before p->end (wherever it ends). Keeps an
 * incomplete record at the start of buf. *clean bytes at the start of buf are known to hold no
 * delimiter (0 at first; kept up to date here), so a long record is not scanned again each time
 * it grows. Returns 1 when every record that starts in the partition has been fed, 0 to read
 * more, -1 on failure.
 */
static int
feed_owned(struct chain *c, const struct partition *p, char *buf, size_t *have, uint64_t *base,
           int *skipping, size_t *clean, int bounded)
{
    const unsigned char delim = c->delimiter;
    size_t consumed, from;
    int finishing = 0;
    char *hit;

    if (*skipping) {
        hit = memchr(buf + *clean, delim, *have - *clean);
        consumed = hit != NULL ? (size_t)(hit - buf) + 1 : *have;
        *base += consumed;
        memmove(buf, buf + consumed, *have - consumed);
        *have -= consumed;
        *clean = 0;
        *skipping = hit == NULL;
        if (*base >= p->end && bounded) {
            *have = 0;
            return 1; /* no record starts in this partition */
        }
        if (*skipping) {
            return 0;
        }
    }
    if (bounded && *base + *have >= p->end) {
        /* Past the partition: the last record ends at the first delimiter from end - 1. */
        from = p->end - 1 >= *base ? (size_t)(p->end - 1 - *base) : 0;
        hit = memchr(buf + (from > *clean ? from : *clean), delim,
                     *have - (from > *clean ? from : *clean));
        if (hit != NULL) {
            *have = (size_t)(hit - buf) + 1;
            finishing = 1;
        }
    }
    if (!finishing && memchr(buf + *clean, delim, *have - *clean) == NULL) {
        *clean = *have; /* no record ends yet: a long one is scanned once, not again each time */
        return 0;
    }
    if (feed(c, buf, *have, *base, finishing, &consumed) != 0) {
        return -1;
    }
    *base += consumed;
    if (consumed > 0) {
        memmove(buf, buf + consumed, *have - consumed);
    }
    *have -= consumed;
    *clean = *have; /* what feed left holds no delimiter */
    return finishing;
}

/*
 * A partition of a BGZF input: decodes its blocks and feeds the records that start in
 * [p->start, p->end), as the plan's ownership rule for plain files would cut them. The partition
 * begins at a record boundary only if the byte before it ends a record, so the block before is
 * decoded for its last byte; the last record may run on into the blocks after the partition.
 */
static int
read_partition_bgzf(struct chain *c, const struct partition *p, int in_fd, const char *in_path,
                    const struct bgzf_index *gz)
{
    const unsigned char delim = c->delimiter;
    size_t cap = READ_BUF_SIZE, have = 0, consumed, b = p->first_block;
    char *buf = malloc(cap + 1);
    uint64_t base = p->start; /* decompressed offset of buf[0] */
    size_t clean = 0;
    int skipping = 0, rc = -1;
    struct error err;

    if (buf == NULL) {
        set_failure(c, -1, "out of memory");
        return -1;
    }
    if (c->decoder == NULL && bgzf_decoder_new(&c->decoder, &err) != 0) {
        set_failure(c, -1, "%s", err.msg);
        goto out;
    }
    /* Does a record start at p->start? Only after a delimiter (or at the very beginning). */
    if (p->first_block > 0) {
        size_t k = p->first_block;
        while (k > 0 && gz->blocks[k - 1].isize == 0) {
            k--;
        }
        if (k > 0) {
            if (reserve(c, &buf, &cap, 0, gz->blocks[k - 1].isize) != 0 ||
                bgzf_decode_block(c->decoder, in_fd, in_path, &gz->blocks[k - 1],
                                  (unsigned char *)buf, &err) != 0) {
                set_failure(c, -1, "%s", err.msg);
                goto out;
            }
            skipping = (unsigned char)buf[gz->blocks[k - 1].isize - 1] != delim;
        }
    }
    for (; b < gz->n; b++) {
        const struct bgzf_block *blk = &gz->blocks[b];
        int done;

        if (c->stop != NULL && *c->stop) {
            set_failure(c, -1, "interrupted");
            goto out;
        }
        if (reserve(c, &buf, &cap, have, blk->isize) != 0) {
            goto out;
        }
        if (bgzf_decode_block(c->decoder, in_fd, in_path, blk, (unsigned char *)buf + have, &err) !=
            0) {
            set_failure(c, -1, "%s", err.msg);
            goto out;
        }
        have += blk->isize;
        done = feed_owned(c, p, buf, &have, &base, &skipping, &clean, 1);
        if (done < 0) {
            goto out;
        }
        if (done) {
            break;
        }
    }
    /* The end of the file ends the last record, delimiter or not. */
    if (have > 0 && (feed(c, buf, have, base, 1, &consumed) != 0)) {
        goto out;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

/*
 * The first part of an indexed partition: whole segments from point *k on, decoded by libdeflate
 * where they fit (gz_segment_fits), each checked against the next point's CRC-32, and fed with the
 * ownership rule. *k is left at the first point not reached this way (at most p->end_block, and
 * in the last partition at most the last point). *reader_at (the point the reader stands at)
 * becomes SIZE_MAX when the reader is used to parse a header. A
 * segment libdeflate cannot decode is left to the reader, which decides whether the file is
 * corrupt and says where (a header point followed by an empty member fails here, legitimately).
 * Returns 1 when every record of the partition has been fed, 0 to go on with the reader from
 * point *k, -1 on failure.
 */
static int
fast_segments(struct chain *c, const struct partition *p, const struct chain_input *in, char **buf,
              size_t *cap, size_t *have, uint64_t *base, int *skipping, size_t *clean, size_t *k,
              size_t *reader_at)
{
    const struct gz_index *gzi = in->gzi;
    const int bounded = p->end_block < gzi->n;
    struct error err;

    if (!c->segments_made) {
        c->segments_made = 1;
        if (gz_segment_decoder_new(&c->segments, &err) != 0) {
            c->segments = NULL; /* the reader does it all, only slower */
        }
    }
    while (c->segments != NULL && *k < p->end_block && *k + 1 < gzi->n) {
        struct gz_point from = gzi->points[*k];
        unsigned char *data;
        char *region;
        size_t len;
        ssize_t n;
        int done;

        if (c->stop != NULL && *c->stop) {
            set_failure(c, -1, "interrupted");
            return -1;
        }
        if (from.at_header) {
            /* (what gz_segment_fits will ask of the pair, before the header is parsed for it) */
            const struct gz_point *to = &gzi->points[*k + 1];
            if (to->at_header || to->member_out != from.out) {
                break;
            }
            *reader_at = SIZE_MAX; /* it parses the header with the reader */
            if (gz_reader_data_start(c->reader, &gzi->points[*k], &from, &err) != 0) {
                break;
            }
        }
        if (!gz_segment_fits(c->segments, &from, &gzi->points[*k + 1])) {
            break;
        }
        if (gz_index_window(gzi, *k, c->window, &err) != 0) {
            set_failure(c, -1, "%s", err.msg);
            return -1;
        }
        n = gz_segment_decode(c->segments, in->fd, in->path, &from, c->window, &gzi->points[*k + 1],
                              &data, &err);
        if (n < 0) {
            break;
        }
        (*k)++;
        if (*have <= gzi->points[*k - 1].window_len) {
            /* The record carried over goes just in front of the new bytes: no copy of those. */
            region = (char *)data - *have;
            memcpy(region, *buf, *have);
            len = *have + (size_t)n;
            done = feed_owned(c, p, region, &len, base, skipping, clean, bounded);
            if (done >= 0 && reserve(c, buf, cap, 0, len) != 0) {
                return -1;
            }
            if (done >= 0) {
                memcpy(*buf, region, len);
                *have = len;
            }
        } else {
            if (reserve(c, buf, cap, *have, (size_t)n) != 0) {
                return -1;
            }
            memcpy(*buf + *have, data, (size_t)n);
            *have += (size_t)n;
            done = feed_owned(c, p, *buf, have, base, skipping, clean, bounded);
        }
        if (done != 0) {
            return done;
        }
    }
    return 0;
}

/*
 * Decodes on from where the reader is, past the end of partition p, to the next access point (or
 * the end of the file), and checks it there: the bytes that ended p's last record are then
 * checked even though the partition after it does not run (--partition K). buf is scratch.
 */
static int
check_tail(struct chain *c, const struct partition *p, const struct gz_index *gzi, const char *path,
           char *buf, size_t cap)
{
    uint64_t at = gz_reader_offset(c->reader);
    size_t j = p->end_block;
    struct error err;

    while (j < gzi->n && gzi->points[j].out < at) {
        j++;
    }
    for (;;) {
        size_t room = cap;
        ssize_t n;

        if (j < gzi->n && at == gzi->points[j].out) {
            if (gz_reader_verify(c->reader, &gzi->points[j], &err) != 0) {
                set_failure(c, -1, "%s (index %s)", err.msg, gzi->path);
                return -1;
            }
            return 0;
        }
        if (j < gzi->n && room > gzi->points[j].out - at) {
            room = (size_t)(gzi->points[j].out - at);
        }
        n = gz_reader_read(c->reader, (unsigned char *)buf, room, &err);
        if (n < 0) {
            set_failure(c, -1, "%s", err.msg);
            return -1;
        }
        if (n == 0) {
            if (j < gzi->n) {
                set_failure(c, -1,
                            "%s ends at decompressed byte %" PRIu64 ", before its index "
                            "%s says",
                            path, at, gzi->path);
                return -1;
            }
            return 0; /* the end of the file, every member checked */
        }
        at += (uint64_t)n;
    }
}

/*
 * A partition of a gzip input read through its index: starts decoding at access point
 * p->first_block and owns the records that start in [p->start, p->end), as for BGZF. Every
 * stretch between two points is checked against the index on reaching the second (the CRC-32 so
 * far, or a member's trailer), whether libdeflate or the reader decoded it; the last partition
 * decodes to the end of the file, so every member is checked and nothing may follow the last.
 */
static int
read_partition_gzi(struct chain *c, const struct partition *p, const struct chain_input *in)
{
    const struct gz_index *gzi = in->gzi;
    const unsigned char delim = c->delimiter;
    const int last_part = p->end_block >= gzi->n;
    size_t cap = READ_BUF_SIZE, have = 0, consumed, clean = 0, k, reader_at = SIZE_MAX;
    char *buf = malloc(cap + 1);
    uint64_t base = p->start;
    int skipping, done, tail = 0, eof = 0, rc = -1;
    struct error err;

    if (buf == NULL) {
        set_failure(c, -1, "out of memory");
        return -1;
    }
    if (c->reader == NULL || c->reader_fd != in->fd) {
        gz_reader_free(c->reader);
        c->reader = NULL;
        if ((c->window == NULL && (c->window = malloc(GZ_WINDOW)) == NULL) ||
            gz_reader_new(in->fd, in->path, in->size, &c->reader, &err) != 0) {
            set_failure(c, -1, "%s", c->window == NULL ? "out of memory" : err.msg);
            goto out;
        }
        c->reader_fd = in->fd;
    }
    skipping = p->start > 0 && gzi->points[p->first_block].prev_byte != delim;
    k = p->first_block;
    for (;;) {
        /* Whole segments with libdeflate while they fit; then the reader, from point k to the
         * next point (checked there), before trying libdeflate again; or, past p->end, only as
         * far as the end of the last record; or, in the last partition, to the end of the
         * file. */
        size_t next;
        int reached = 0;
        ssize_t n = 1;

        done = fast_segments(c, p, in, &buf, &cap, &have, &base, &skipping, &clean, &k, &reader_at);
        if (done != 0) {
            rc = done > 0 ? 0 : -1;
            goto out;
        }
        next = last_part || k < p->end_block ? k + 1 : SIZE_MAX;
        tail = next == SIZE_MAX;
        /* The reader goes on from where it checked the last point, unless libdeflate moved on
         * (or used the reader to parse a header). */
        if (reader_at != k && (gz_index_window(gzi, k, c->window, &err) != 0 ||
                               gz_reader_seek(c->reader, &gzi->points[k], c->window, &err) != 0)) {
            set_failure(c, -1, "%s", err.msg);
            goto out;
        }
        while (!reached) {
            size_t room;

            if (c->stop != NULL && *c->stop) {
                set_failure(c, -1, "interrupted");
                goto out;
            }
            if (have == cap && reserve(c, &buf, &cap, have, cap) != 0) {
                goto out;
            }
            room = cap - have;
            if (next < gzi->n && room > gzi->points[next].out - (base + have)) {
                room = (size_t)(gzi->points[next].out - (base + have));
            } else if (tail && room > TAIL_STEP && room > have) {
                /* Only the end of the last record is wanted from here on: read a little, then
                 * as much again as it has grown (a long record costs twice its length). */
                room = have > TAIL_STEP ? have : TAIL_STEP;
            }
            n = gz_reader_read(c->reader, (unsigned char *)buf + have, room, &err);
            if (n < 0) {
                set_failure(c, -1, "%s", err.msg);
                goto out;
            }
            if (n == 0) {
                if (next < gzi->n || (last_part && base + have != p->end)) {
                    set_failure(c, -1,
                                "%s ends at decompressed byte %" PRIu64 ", not where its "
                                "index %s says (%" PRIu64 ")",
                                in->path, base + have, gzi->path,
                                next < gzi->n ? gzi->points[next].out : p->end);
                    goto out;
                }
                eof = 1; /* every member is checked, and nothing follows the last */
                break;
            }
            have += (size_t)n;
            if (next < gzi->n && base + have == gzi->points[next].out) {
                if (gz_reader_verify(c->reader, &gzi->points[next], &err) != 0) {
                    set_failure(c, -1, "%s (index %s)", err.msg, gzi->path);
                    goto out;
                }
                reached = 1;
            }
            done = feed_owned(c, p, buf, &have, &base, &skipping, &clean, !last_part);
            if (done < 0) {
                goto out;
            }
            if (done) {
                n = 0; /* every record of the partition is fed */
                break;
            }
        }
        if (n == 0) {
            break;
        }
        k = next;
        reader_at = next;
    }
    if (have > 0 && (feed(c, buf, have, base, 1, &consumed) != 0)) {
        goto out;
    }
    rc = in->check_tail && tail && !eof ? check_tail(c, p, gzi, in->path, buf, cap) : 0;
out:
    free(buf);
    return rc;
}

/* A partition decoded by the parent: whole records, in memory. */
static int
read_partition_mem(struct chain *c, const struct partition *p, char *mem)
{
    size_t consumed;

    return feed(c, mem, (size_t)(p->end - p->start), p->start, 1, &consumed);
}

/* Calls each step's end_partition, in chain order, so what step i emits there still flows
 * through the steps after it before their own end_partition. */
static int
end_steps(struct chain *c)
{
    size_t i;

    c->progress->record_start = UINT64_MAX; /* no record: a crash here is not in one */
    for (i = 0; i < c->n_steps; i++) {
        const struct tranche_plugin *d = c->steps[i].plugin->desc;
        if (d->end_partition == NULL) {
            continue;
        }
        c->progress->step = (int32_t)i;
        if (d->end_partition(c->ctx[i].state, &c->ctx[i]) != TRANCHE_OK || c->failed) {
            set_failure(c, (int)i, "end_partition failed without a message");
            return -1;
        }
    }
    c->progress->step = -1;
    return 0;
}

static int
read_input(struct chain *c, const struct partition *p, const struct chain_input *in)
{
    if (in->mem != NULL) {
        return read_partition_mem(c, p, in->mem);
    }
    if (in->gzi != NULL && in->gzi->n > 0) {
        return read_partition_gzi(c, p, in);
    }
    if (in->bgzf != NULL && in->bgzf->blocks != NULL) {
        return read_partition_bgzf(c, p, in->fd, in->path, in->bgzf);
    }
    return read_partition(c, p, in->fd, in->path);
}

int
chain_run(struct chain *c, const struct partition *p, const struct chain_input *in,
          const struct chain_sink *sink, struct partition_stats *stats, int *failed_step,
          struct error *err)
{
    uint64_t start_ns = now_nanos();
    int rc = -1;

    c->part = p;
    c->sink = sink;
    c->out_len = 0;
    c->drain_at = DRAIN_STEP;
    c->failed = 0;
    c->failed_step = -1;
    memset(&c->stats, 0, sizeof(c->stats));
    c->progress->partition = (int64_t)p->index;
    if (read_input(c, p, in) == 0 && end_steps(c) == 0 && drain(c, 1) == TRANCHE_OK) {
        rc = 0;
    }
    c->stats.nanos = now_nanos() - start_ns;
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

void
chain_pending(const struct chain *c, const char **data, size_t *len)
{
    *data = c->out_buf;
    *len = c->out_len;
}

void
chain_set_stop(struct chain *c, const volatile sig_atomic_t *stop)
{
    c->stop = stop;
}

void
chain_free(struct chain *c)
{
    size_t i;

    if (c == NULL) {
        return;
    }
    for (i = 0; c->ctx != NULL && i < c->n_steps; i++) {
        const struct tranche_plugin *d = c->steps[i].plugin->desc;
        if (c->ctx[i].initialized && d->fini != NULL) {
            d->fini(c->ctx[i].state);
        }
        free(c->ctx[i].scratch);
    }
    free(c->ctx);
    free(c->out_buf);
    bgzf_decoder_free(c->decoder);
    gz_reader_free(c->reader);
    gz_segment_decoder_free(c->segments);
    free(c->window);
    free(c);
}
