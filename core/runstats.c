/*
 * core/runstats.c: what a run did (runstats.h): per-partition and per-worker records kept as the
 * scheduler reports, the progress line drawn from them, and at the end summary.json and the
 * one-line summary.
 *
 * Invariants: nothing here fails the job (out of memory sets `incomplete` and drops detail);
 * nothing is done per record; the progress line is only ever drawn when rs->progress (standard
 * error is a terminal), as one line rewritten in place with "\r" and erased with "\r\033[K".
 */
#include "runstats.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "grow.h"
#include "io.h"
#include "log.h"
#include "run.h"
#include "signals.h"

/* The progress line is redrawn at most this often. */
#define PROGRESS_EVERY_NS 250000000ull

static uint64_t
since_start(const struct runstats *rs)
{
    return clock_now_ns() - rs->t0;
}

int
runstats_init(struct runstats *rs, const struct run *r, int n_workers, int progress)
{
    memset(rs, 0, sizeof(*rs));
    rs->run = r;
    rs->n_workers = n_workers > 0 ? n_workers : 1;
    rs->in_process = r != NULL && r->opt != NULL && run_in_this_process(r->opt);
    rs->progress = progress;
    rs->t0 = clock_now_ns();
    rs->started_at = time(NULL);
    rs->workers = calloc((size_t)rs->n_workers, sizeof(*rs->workers));
    if (rs->workers == NULL) {
        rs->incomplete = 1;
    }
    return 0;
}

void
runstats_release(struct runstats *rs)
{
    size_t i;

    for (i = 0; i < rs->n_retry_log; i++) {
        free(rs->retry_log[i].reason);
    }
    free(rs->retry_log);
    free(rs->parts);
    free(rs->workers);
    memset(rs, 0, sizeof(*rs));
}

/* Partition k's record, made (zeroed) when new; NULL when out of memory. */
static struct runstats_part *
part_at(struct runstats *rs, size_t k)
{
    if (k >= rs->n_parts) {
        if (k == SIZE_MAX || GROW(rs->parts, rs->cap_parts, k + 1) != 0) {
            rs->incomplete = 1;
            return NULL;
        }
        memset(rs->parts + rs->n_parts, 0, (k + 1 - rs->n_parts) * sizeof(*rs->parts));
        rs->n_parts = k + 1;
    }
    return &rs->parts[k];
}

/* Worker w's record (w 1-based; 0 in this process); NULL when there is none. */
static struct runstats_worker *
worker_at(struct runstats *rs, int w)
{
    if (w <= 0 && rs->in_process) {
        w = 1;
    }
    if (rs->workers == NULL || w < 1 || w > rs->n_workers) {
        return NULL;
    }
    return &rs->workers[w - 1];
}

/* The plan as the planner knows it now (a stream's grows as it is decoded). */
static const struct plan *
live_plan(const struct runstats *rs)
{
    return rs->run != NULL ? &rs->run->planner.live : NULL;
}

/* Brings parts_planned and bytes_planned up to the planner's plan (the in-process mode does not
 * call runstats_planned). */
static void
sync_plan(struct runstats *rs)
{
    const struct plan *p = live_plan(rs);
    uint64_t bytes = 0;
    size_t k;

    if (p == NULL || p->n_parts <= rs->parts_planned) {
        return;
    }
    for (k = 0; k < p->n_parts; k++) {
        bytes += p->parts[k].end - p->parts[k].start;
    }
    rs->parts_planned = p->n_parts;
    if (bytes > rs->bytes_planned) {
        rs->bytes_planned = bytes;
    }
}

void
runstats_planned(struct runstats *rs, size_t n_parts, uint64_t bytes)
{
    if (n_parts > rs->parts_planned) {
        rs->parts_planned = n_parts;
    }
    if (bytes > rs->bytes_planned) {
        rs->bytes_planned = bytes;
    }
}

void
runstats_partition_started(struct runstats *rs, size_t k, int w, int attempt)
{
    struct runstats_part *p = part_at(rs, k);

    if (p == NULL) {
        return;
    }
    p->attempts = attempt > p->attempts ? attempt : p->attempts + 1;
    p->worker = w <= 0 && rs->in_process ? 1 : w;
    p->t_start = since_start(rs);
}

/* The input bytes partition k covers (as the plan counts them, so that progress adds up to the
 * plan), else what its records held. */
static uint64_t
planned_bytes(const struct runstats *rs, size_t k, const struct partition_stats *st)
{
    const struct plan *p = live_plan(rs);

    if (p != NULL && k < p->n_parts) {
        return p->parts[k].end - p->parts[k].start;
    }
    return st->bytes_in;
}

/* Adds a partition's numbers to the totals (sign -1: takes them out again). */
static void
add_totals(struct runstats *rs, const struct runstats_part *p, int sign)
{
    uint64_t m = sign > 0 ? 1 : (uint64_t)-1; /* (unsigned: wraps back exactly) */

    rs->records_in += m * p->records_in;
    rs->records_out += m * p->records_out;
    rs->bytes_in += m * p->bytes_in;
    rs->bytes_out += m * p->bytes_out;
    rs->skipped += m * p->skipped;
}

/* Partition k's numbers for this run; when it had some already (a second report of it), those
 * are replaced. Steps are added once per report (a partition reported twice counts twice there:
 * the scheduler reports each once). */
static void
count_partition(struct runstats *rs, size_t k, const struct partition_stats *st, uint64_t skipped)
{
    struct runstats_part *p = part_at(rs, k), scratch;
    size_t i;

    if (p == NULL) {
        memset(&scratch, 0, sizeof(scratch));
        p = &scratch;
    } else if (p->done) {
        add_totals(rs, p, -1);
        rs->parts_done--;
        rs->bytes_done -= planned_bytes(rs, k, st);
    }
    p->done = 1;
    p->records_in = st->records_in;
    p->records_out = st->records_out;
    p->bytes_in = st->bytes_in;
    p->bytes_out = st->bytes_out;
    p->skipped = skipped;
    add_totals(rs, p, 1);
    rs->parts_done++;
    rs->bytes_done += planned_bytes(rs, k, st);
    for (i = 0; i < CHAIN_STATS_STEPS; i++) {
        rs->steps[i].records_in += st->steps[i].records_in;
        rs->steps[i].records_out += st->steps[i].records_out;
        rs->steps[i].bytes_in += st->steps[i].bytes_in;
        rs->steps[i].bytes_out += st->steps[i].bytes_out;
    }
}

void
runstats_partition_done(struct runstats *rs, size_t k, int w, const struct partition_stats *st,
                        uint64_t skipped)
{
    struct runstats_worker *wk = worker_at(rs, w);
    struct runstats_part *p;
    uint64_t t = since_start(rs);

    count_partition(rs, k, st, skipped);
    p = k < rs->n_parts ? &rs->parts[k] : NULL;
    if (p != NULL) {
        p->worker = w <= 0 && rs->in_process ? 1 : w;
        p->t_done = t;
    }
    if (wk != NULL) {
        wk->partitions++;
        wk->busy_ns += p != NULL && t >= p->t_start ? t - p->t_start : st->nanos;
    }
    /* In this process nobody else ticks. */
    if (rs->in_process) {
        runstats_tick(rs);
    }
}

void
runstats_partition_written(struct runstats *rs, size_t k)
{
    struct runstats_part *p = part_at(rs, k);

    rs->parts_written++;
    if (p != NULL) {
        p->written = 1;
        p->t_written = since_start(rs);
    }
}

/* `why` as one line of at most 400 bytes (malloc'd; NULL when out of memory). */
static char *
one_line(const char *why)
{
    size_t n = why != NULL ? strcspn(why, "\n") : 0;
    char *s;

    if (n > 400) {
        n = 400;
    }
    s = malloc(n + 1);
    if (s != NULL) {
        memcpy(s, why != NULL ? why : "", n);
        s[n] = '\0';
    }
    return s;
}

void
runstats_partition_retried(struct runstats *rs, size_t k, int w, const char *why)
{
    struct runstats_worker *wk = worker_at(rs, w);
    struct runstats_part *p = part_at(rs, k);
    struct runstats_retry *r;
    uint64_t t = since_start(rs);

    rs->retries++;
    if (wk != NULL && p != NULL && t >= p->t_start) {
        wk->busy_ns += t - p->t_start; /* the failed attempt kept it busy too */
    }
    if (GROW(rs->retry_log, rs->cap_retry_log, rs->n_retry_log + 1) != 0) {
        rs->incomplete = 1;
        return;
    }
    r = &rs->retry_log[rs->n_retry_log];
    r->partition = k;
    r->attempt = p != NULL && p->attempts > 0 ? p->attempts : 1;
    r->worker = w <= 0 && rs->in_process ? 1 : w;
    r->at = t;
    r->reason = one_line(why);
    if (r->reason == NULL) {
        rs->incomplete = 1;
        return;
    }
    rs->n_retry_log++;
}

void
runstats_partition_resumed(struct runstats *rs, size_t k, const struct partition_stats *st,
                           uint64_t skipped)
{
    struct runstats_part *p;

    count_partition(rs, k, st, skipped);
    rs->parts_resumed++;
    p = k < rs->n_parts ? &rs->parts[k] : NULL;
    if (p != NULL) {
        p->resumed = 1;
        p->worker = 0;
    }
}

static void
add_time(struct timeval *sum, const struct timeval *t)
{
    sum->tv_sec += t->tv_sec;
    sum->tv_usec += t->tv_usec;
    if (sum->tv_usec >= 1000000) {
        sum->tv_sec++;
        sum->tv_usec -= 1000000;
    }
}

void
runstats_worker_ended(struct runstats *rs, int w, const struct rusage *ru)
{
    struct runstats_worker *wk = worker_at(rs, w);

    if (wk == NULL) {
        return;
    }
    wk->processes++;
    add_time(&wk->utime, &ru->ru_utime);
    add_time(&wk->stime, &ru->ru_stime);
    if (ru->ru_maxrss > wk->max_rss_kib) {
        wk->max_rss_kib = ru->ru_maxrss;
    }
}

/* ---- the progress line ---- */

/* "512.0 MiB" (or "812 B"). */
static void
format_bytes(char *buf, size_t size, uint64_t n)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    size_t u = 0;

    if (n < 1024) {
        snprintf(buf, size, "%" PRIu64 " B", n);
        return;
    }
    v /= 1024;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
}

/* "1:05" or "2:03:07". */
static void
format_duration(char *buf, size_t size, uint64_t seconds)
{
    if (seconds >= 3600) {
        snprintf(buf, size, "%" PRIu64 ":%02u:%02u", seconds / 3600, (unsigned)(seconds / 60 % 60),
                 (unsigned)(seconds % 60));
    } else {
        snprintf(buf, size, "%u:%02u", (unsigned)(seconds / 60), (unsigned)(seconds % 60));
    }
}

/* The terminal's width (80 when it does not say). */
static size_t
terminal_width(void)
{
    struct winsize ws;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        return ws.ws_col;
    }
    return 80;
}

/*
 * The input bytes the job will have read at its end: the plan's, or, while the last input is a
 * gzip file being decoded (a first run: its plan grows as it is cut), an estimate from how far
 * into the compressed file decoding is. Returns 1 when known (*estimated: from that estimate),
 * 0 when more is to be planned than can be told (an input after the stream, or a pipe).
 */
static int
bytes_expected(const struct runstats *rs, uint64_t *total, int *estimated)
{
    const struct planner *pl = &rs->run->planner;
    uint64_t in_done, in_size, decoded = 0;
    size_t file, k;

    *total = rs->bytes_planned;
    *estimated = 0;
    if (pl->planned_all) {
        return 1;
    }
    if (!planner_stream_position(pl, &file, &in_done, &in_size) || file + 1 != rs->run->inputs->n ||
        in_done >= in_size) {
        return 0;
    }
    for (k = 0; k < pl->live.n_parts; k++) {
        if (pl->live.parts[k].file == file) {
            decoded += pl->live.parts[k].end - pl->live.parts[k].start;
        }
    }
    *total += (uint64_t)((double)decoded * (double)(in_size - in_done) / (double)in_done);
    *estimated = 1;
    return 1;
}

/* The progress line's text (without "\r"): what is known; while the plan grows (a stream being
 * decoded) the partitions planned so far with a "+", and the bytes to come estimated from the
 * compressed offset ("~") when that can be told, else with a "+" and no time left. */
static void
progress_text(const struct runstats *rs, char *buf, size_t size, uint64_t t)
{
    const struct plan *p = live_plan(rs);
    int all = rs->run->planner.planned_all, estimated = 0;
    char done[32], planned[32], rate[32], eta[32] = "?", elapsed[32], pct[16] = "";
    double secs = (double)t / 1e9, speed = secs > 0 ? (double)rs->bytes_done / secs : 0;
    uint64_t n_parts = p->n_parts > rs->parts_planned ? p->n_parts : rs->parts_planned, total;
    int known = bytes_expected(rs, &total, &estimated);

    format_bytes(done, sizeof(done), rs->bytes_done);
    format_bytes(planned, sizeof(planned), known ? total : rs->bytes_planned);
    format_bytes(rate, sizeof(rate), (uint64_t)speed);
    format_duration(elapsed, sizeof(elapsed), t / 1000000000ull);
    if (known && total > 0) {
        snprintf(pct, sizeof(pct), " (%u%%)",
                 rs->bytes_done >= total
                     ? 100u
                     : (unsigned)((double)rs->bytes_done * 100 / (double)total));
    }
    if (known && speed > 0 && total >= rs->bytes_done) {
        format_duration(eta, sizeof(eta),
                        (uint64_t)((double)(total - rs->bytes_done) / speed + 0.5));
    }
    snprintf(buf, size,
             "tranche: %s/%s%s%s%s, %" PRIu64 "/%" PRIu64 "%s parts, %s/s, ETA %s, %s elapsed, "
             "%" PRIu64 " retries, %" PRIu64 " skipped",
             done, estimated ? "~" : "", planned, known ? "" : "+", pct, rs->parts_done, n_parts,
             all ? "" : "+", rate, eta, elapsed, rs->retries, rs->skipped);
}

static void
draw(struct runstats *rs, uint64_t t)
{
    char line[512], out[520];
    size_t width = terminal_width(), n;

    sync_plan(rs);
    progress_text(rs, line, sizeof(line), t);
    n = strlen(line);
    /* One column short of the width: a full line would wrap on some terminals. */
    if (width > 1 && n > width - 1) {
        n = width - 1;
    }
    out[0] = '\r';
    memcpy(out + 1, line, n);
    memcpy(out + 1 + n, "\033[K", 3);
    if (io_write_all(STDERR_FILENO, out, n + 4) == 0) {
        rs->progress_shown = 1;
    }
    rs->progress_drawn = t;
}

void
runstats_tick(struct runstats *rs)
{
    uint64_t t;

    if (!rs->progress) {
        return;
    }
    t = since_start(rs);
    if (rs->progress_shown && t - rs->progress_drawn < PROGRESS_EVERY_NS) {
        return;
    }
    if (!rs->progress_shown && t < PROGRESS_EVERY_NS) {
        return; /* a job that is over in a blink draws nothing */
    }
    draw(rs, t);
}

int
runstats_tick_ms(const struct runstats *rs)
{
    uint64_t t, due;

    if (!rs->progress) {
        return -1;
    }
    t = since_start(rs);
    due = rs->progress_shown ? rs->progress_drawn + PROGRESS_EVERY_NS : PROGRESS_EVERY_NS;
    return t >= due ? 0 : (int)((due - t + 999999) / 1000000);
}

void
runstats_clear(struct runstats *rs)
{
    if (rs->progress_shown) {
        if (io_write_all(STDERR_FILENO, "\r\033[K", 4) != 0) {
            /* a terminal that went away: nothing to clear */
        }
        rs->progress_shown = 0;
    }
}

/* ---- summary.json ---- */

/* How many bytes of a valid UTF-8 sequence start at s (NUL-terminated), or 0 (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t
utf8_length(const unsigned char *s)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* A JSON string (RFC 8259), or null for NULL: control characters escaped, each byte that is
 * not part of valid UTF-8 written as U+FFFD. */
static void
json_string(FILE *f, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n;

    if (s == NULL) {
        fputs("null", f);
        return;
    }
    putc('"', f);
    while (*s != '\0') {
        if (*s == '"' || *s == '\\') {
            putc('\\', f);
            putc(*s++, f);
        } else if (*s == '\n') {
            fputs("\\n", f), s++;
        } else if (*s == '\t') {
            fputs("\\t", f), s++;
        } else if (*s == '\r') {
            fputs("\\r", f), s++;
        } else if (*s < 0x20 || *s == 0x7f) {
            fprintf(f, "\\u%04x", *s++);
        } else if ((n = utf8_length(s)) == 0) {
            fputs("\\ufffd", f), s++;
        } else {
            fwrite(s, 1, n, f);
            s += n;
        }
    }
    putc('"', f);
}

static double
seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

static double
tv_seconds(const struct timeval *t)
{
    return (double)t->tv_sec + (double)t->tv_usec / 1e6;
}

/* What the summary says the run ended as. */
static const char *
status_name(int result, const char *error_msg)
{
    if (result == RESULT_OK) {
        return "ok";
    }
    if (result == RESULT_SKIPPED) {
        return "skipped";
    }
    if (result == ERR_TIMEOUT) {
        return "timed_out";
    }
    if (signals_caught ||
        (error_msg != NULL && strncmp(error_msg, "interrupted by signal", 21) == 0)) {
        return "interrupted";
    }
    return "failed";
}

/* An input's size: on disk for a file, else (a pipe) the bytes its partitions held. */
static uint64_t
input_size(const struct runstats *rs, size_t i)
{
    const struct input *in = &rs->run->inputs->v[i];
    const struct plan *p = live_plan(rs);
    uint64_t n = 0;
    size_t k;

    if (S_ISREG(in->st.st_mode)) {
        return (uint64_t)in->st.st_size;
    }
    for (k = 0; p != NULL && k < p->n_parts; k++) {
        n += p->parts[k].file == i ? p->parts[k].end - p->parts[k].start : 0;
    }
    return n;
}

static void
json_inputs(FILE *f, const struct runstats *rs)
{
    const struct inputs *in = rs->run->inputs;
    size_t i;

    fputs("  \"inputs\": [", f);
    for (i = 0; in != NULL && i < in->n; i++) {
        fputs(i > 0 ? ",\n    {\"path\": " : "\n    {\"path\": ", f);
        json_string(f, in->v[i].path);
        fprintf(f, ", \"kind\": \"%s\", \"size\": %" PRIu64 "}", input_kind_name(&in->v[i]),
                input_size(rs, i));
    }
    fputs(i > 0 ? "\n  ],\n" : "],\n", f);
}

static void
json_steps(FILE *f, const struct runstats *rs)
{
    size_t n = rs->run->job->n_steps, i, shown = n < CHAIN_STATS_STEPS ? n : CHAIN_STATS_STEPS;
    char label[128];

    fputs("  \"steps\": [", f);
    for (i = 0; i < shown; i++) {
        const struct step_stats *s = &rs->steps[i];
        const char *name = rs->run->steps[i].label;

        /* Steps past the 16th are counted with it. */
        if (i == CHAIN_STATS_STEPS - 1 && n > CHAIN_STATS_STEPS) {
            snprintf(label, sizeof(label), "steps %zu-%zu", i + 1, n);
            name = label;
        }
        fputs(i > 0 ? ",\n    {\"label\": " : "\n    {\"label\": ", f);
        json_string(f, name);
        fprintf(f,
                ", \"records_in\": %" PRIu64 ", \"records_out\": %" PRIu64
                ", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64 "}",
                s->records_in, s->records_out, s->bytes_in, s->bytes_out);
    }
    fputs(i > 0 ? "\n  ],\n" : "],\n", f);
}

static void
json_retries(FILE *f, const struct runstats *rs)
{
    size_t i;

    fputs("  \"retries\": [", f);
    for (i = 0; i < rs->n_retry_log; i++) {
        const struct runstats_retry *r = &rs->retry_log[i];
        fprintf(f,
                "%s\n    {\"partition\": %zu, \"attempt\": %d, \"worker\": %d, \"at_s\": %.6f, "
                "\"reason\": ",
                i > 0 ? "," : "", r->partition, r->attempt, r->worker, seconds(r->at));
        json_string(f, r->reason);
        putc('}', f);
    }
    fputs(i > 0 ? "\n  ],\n" : "],\n", f);
}

/* A time of a partition, null when it has none. */
static void
json_time(FILE *f, const char *key, int has, uint64_t ns)
{
    if (has) {
        fprintf(f, ", \"%s\": %.6f", key, seconds(ns));
    } else {
        fprintf(f, ", \"%s\": null", key);
    }
}

static void
json_partitions(FILE *f, const struct runstats *rs)
{
    static const struct runstats_part none;
    const struct plan *p = live_plan(rs);
    size_t k;

    fputs("  \"partitions\": [", f);
    for (k = 0; p != NULL && k < p->n_parts; k++) {
        const struct partition *pp = &p->parts[k];
        const struct runstats_part *r = k < rs->n_parts ? &rs->parts[k] : &none;
        int ran = r->attempts > 0 && !r->resumed;

        fprintf(f,
                "%s\n    {\"index\": %zu, \"input\": %zu, \"start\": %" PRIu64 ", \"end\": %" PRIu64
                ", \"worker\": %d, \"attempts\": %d, \"resumed\": %s",
                k > 0 ? "," : "", pp->index, pp->file, pp->start, pp->end, ran ? r->worker : 0,
                r->attempts, r->resumed ? "true" : "false");
        json_time(f, "start_s", ran, r->t_start);
        json_time(f, "done_s", ran && r->done, r->t_done);
        json_time(f, "written_s", r->written, r->t_written);
        fprintf(f,
                ", \"records_in\": %" PRIu64 ", \"records_out\": %" PRIu64
                ", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64 ", \"skipped\": %" PRIu64
                "}",
                r->records_in, r->records_out, r->bytes_in, r->bytes_out, r->skipped);
    }
    fputs(k > 0 ? "\n  ],\n" : "],\n", f);
}

static void
json_workers(FILE *f, const struct runstats *rs)
{
    int i;

    fputs("  \"workers\": [", f);
    for (i = 0; rs->workers != NULL && i < rs->n_workers; i++) {
        const struct runstats_worker *w = &rs->workers[i];
        fprintf(f,
                "%s\n    {\"id\": %d, \"processes\": %" PRIu64 ", \"partitions\": %" PRIu64
                ", \"busy_s\": %.6f, \"cpu_user_s\": %.6f, \"cpu_system_s\": %.6f, "
                "\"max_rss_kib\": %ld}",
                i > 0 ? "," : "", i + 1, w->processes, w->partitions, seconds(w->busy_ns),
                tv_seconds(&w->utime), tv_seconds(&w->stime), w->max_rss_kib);
    }
    fputs(i > 0 ? "\n  ],\n" : "],\n", f);
}

/* LOG_DIR/NAME in buf, or "" when it does not fit. */
static const char *
in_log_dir(const struct runstats *rs, const char *name, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s", rs->run->opt->log_dir, name);

    if (n < 0 || (size_t)n >= size) {
        buf[0] = '\0';
    }
    return buf;
}

/* LOG_DIR/NAME when that file exists, else NULL. */
static const char *
log_file_if_there(const struct runstats *rs, const char *name, char *buf, size_t size)
{
    struct stat st;

    in_log_dir(rs, name, buf, size);
    return buf[0] != '\0' && stat(buf, &st) == 0 ? buf : NULL;
}

/* What the whole process and its children used, workers included. */
static void
cpu_used(struct timeval *user, struct timeval *sys)
{
    struct rusage self, children;

    memset(user, 0, sizeof(*user));
    memset(sys, 0, sizeof(*sys));
    if (getrusage(RUSAGE_SELF, &self) == 0) {
        add_time(user, &self.ru_utime);
        add_time(sys, &self.ru_stime);
    }
    if (getrusage(RUSAGE_CHILDREN, &children) == 0) {
        add_time(user, &children.ru_utime);
        add_time(sys, &children.ru_stime);
    }
}

static void
json_head(FILE *f, const struct runstats *rs, int result, const char *error_msg, uint64_t t)
{
    const struct run *r = rs->run;
    struct timeval user, sys;
    struct tm tm;
    char when[32] = "";
    int failed = result != RESULT_OK && result != RESULT_SKIPPED;

    cpu_used(&user, &sys);
    if (gmtime_r(&rs->started_at, &tm) != NULL) {
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    fprintf(f, "{\n  \"tranche\": \"%s\",\n  \"job\": ", TRANCHE_VERSION);
    json_string(f, r->job->file);
    fputs(",\n  \"log_dir\": ", f);
    json_string(f, r->opt->log_dir);
    fputs(",\n  \"output\": ", f);
    json_string(f, r->job->output);
    fprintf(f, ",\n  \"status\": \"%s\",\n  \"exit_status\": %d,\n  \"error\": ",
            status_name(result, error_msg), error_exit_status(result));
    json_string(f,
                failed ? (error_msg != NULL && *error_msg != '\0' ? error_msg : "failed") : NULL);
    fprintf(f,
            ",\n  \"started_at\": \"%s\",\n  \"wall_s\": %.6f, \"cpu_user_s\": %.6f, "
            "\"cpu_system_s\": %.6f,\n  \"n_workers\": %d,\n",
            when, seconds(t), tv_seconds(&user), tv_seconds(&sys), rs->n_workers);
}

static void
json_totals(FILE *f, const struct runstats *rs)
{
    char tsv[PATH_MAX], bin[PATH_MAX];

    fprintf(f,
            "  \"totals\": {\"partitions\": %" PRIu64 ", \"partitions_written\": %" PRIu64
            ", \"partitions_resumed\": %" PRIu64 ", \"retries\": %" PRIu64 ", \"skipped\": %" PRIu64
            ",\n             \"records_in\": %" PRIu64 ", \"records_out\": %" PRIu64
            ", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64 "},\n",
            rs->parts_planned, rs->parts_written, rs->parts_resumed, rs->retries, rs->skipped,
            rs->records_in, rs->records_out, rs->bytes_in, rs->bytes_out);
    fprintf(f, "  \"rejects\": {\"count\": %" PRIu64 ", \"tsv\": ", rs->skipped);
    json_string(f, log_file_if_there(rs, "rejects.tsv", tsv, sizeof(tsv)));
    fputs(", \"bin\": ", f);
    json_string(f, log_file_if_there(rs, "rejects.bin", bin, sizeof(bin)));
    fputs("},\n", f);
}

/* The whole summary.json text (malloc'd in *text), or -1 when out of memory. */
static int
summary_json(const struct runstats *rs, int result, const char *error_msg, uint64_t t, char **text,
             size_t *len)
{
    FILE *f = open_memstream(text, len);

    if (f == NULL) {
        return -1;
    }
    json_head(f, rs, result, error_msg, t);
    json_inputs(f, rs);
    json_totals(f, rs);
    json_steps(f, rs);
    json_retries(f, rs);
    json_partitions(f, rs);
    json_workers(f, rs);
    fprintf(f, "  \"incomplete\": %s\n}\n", rs->incomplete ? "true" : "false");
    if (ferror(f)) {
        fclose(f);
        free(*text);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* Writes path atomically: a temporary file beside it, renamed over it. */
static int
write_atomically(const char *path, const char *data, size_t len, struct error *err)
{
    char tmp[PATH_MAX];
    mode_t mask;
    int fd, n = snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);

    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return error_set(err, "%s: the path is too long", path);
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        return error_errno(err, "cannot create %s", tmp);
    }
    mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || io_write_all(fd, data, len) != 0) {
        error_errno(err, "cannot write %s", tmp);
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0) {
        error_errno(err, "cannot write %s", tmp);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        error_errno(err, "cannot rename %s to %s", tmp, path);
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* 1234567 as "1,234,567" (runstats.h). */
const char *
runstats_grouped(uint64_t v, char *buf, size_t size)
{
    char digits[32];
    size_t n = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, v), i, o = 0;

    for (i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            buf[o++] = ',';
        }
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *
plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* The one-line summary on stderr, for a job that succeeded. */
static void
summary_line(const struct runstats *rs, int result, uint64_t t)
{
    const struct run *r = rs->run;
    char in[32], out[32], bytes[32], rate[32], workers[32];
    double secs = seconds(t);

    format_bytes(bytes, sizeof(bytes), rs->bytes_in);
    format_bytes(rate, sizeof(rate), secs > 0 ? (uint64_t)((double)rs->bytes_in / secs) : 0);
    if (rs->in_process) {
        snprintf(workers, sizeof(workers), "in-process");
    } else {
        snprintf(workers, sizeof(workers), "%d %s", rs->n_workers,
                 plural((uint64_t)rs->n_workers, "worker", "workers"));
    }
    fprintf(stderr,
            "tranche: %s: %s: %s records in, %s out, %s in %.2fs (%s/s), %" PRIu64
            " %s, %s, %" PRIu64 " %s, %" PRIu64 " skipped%s; output %s; logs %s\n",
            r->job->file, result == RESULT_SKIPPED ? "ok, records skipped" : "ok",
            runstats_grouped(rs->records_in, in, sizeof(in)),
            runstats_grouped(rs->records_out, out, sizeof(out)), bytes, secs, rate,
            rs->parts_planned, plural(rs->parts_planned, "partition", "partitions"), workers,
            rs->retries, plural(rs->retries, "retry", "retries"), rs->skipped,
            rs->skipped > 0 ? " (listed in rejects.tsv)" : "",
            strcmp(r->job->output, "-") == 0 ? "standard output" : r->job->output, r->opt->log_dir);
}

/* In this process, worker 1 is this process: its CPU time and peak. */
static void
count_this_process(struct runstats *rs)
{
    struct rusage self;

    if (!rs->in_process || rs->workers == NULL || rs->workers[0].processes > 0 ||
        getrusage(RUSAGE_SELF, &self) != 0) {
        return;
    }
    runstats_worker_ended(rs, 1, &self);
}

int
runstats_finish(struct runstats *rs, int result, const char *error_msg)
{
    const struct run_options *opt = rs->run->opt;
    uint64_t t = since_start(rs);
    char path[PATH_MAX], *text = NULL;
    struct error err;
    size_t len = 0;
    int rc = 0;

    runstats_clear(rs);
    sync_plan(rs);
    count_this_process(rs);
    if (summary_json(rs, result, error_msg, t, &text, &len) != 0) {
        log_line(rs->run->log_fd, "no summary.json: out of memory");
        fprintf(stderr, "tranche: warning: no summary.json: out of memory\n");
        return -1;
    }
    in_log_dir(rs, opt->n_replay > 0 ? "replay-summary.json" : "summary.json", path, sizeof(path));
    if (path[0] == '\0' || write_atomically(path, text, len, &err) != 0) {
        rc = -1;
        if (path[0] == '\0') {
            error_set(&err, "the log directory's path is too long for summary.json");
        }
        log_line(rs->run->log_fd, "%s", err.msg);
        fprintf(stderr, "tranche: warning: %s\n", err.msg);
    }
    if (opt->summary_json != NULL && write_atomically(opt->summary_json, text, len, &err) != 0) {
        rc = -1;
        log_line(rs->run->log_fd, "--summary-json: %s", err.msg);
        fprintf(stderr, "tranche: warning: --summary-json: %s\n", err.msg);
    }
    free(text);
    if (opt->summary_line && (result == RESULT_OK || result == RESULT_SKIPPED)) {
        summary_line(rs, result, t);
    }
    return rc;
}
