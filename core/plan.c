/*
 * core/plan.c: planning partitions at record boundaries. The parent probes each target
 * offset and moves forward to the byte after the next delimiter; partitions are contiguous, so no
 * record can be lost or owned twice, and a record longer than the target simply makes its
 * partition longer (no empty or duplicate partitions).
 */
#include "plan.h"

#include "bgzf.h"
#include "grow.h"
#include "gzindex.h"
#include "io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE_CHUNK (64 * 1024)
#define PARITY_CHUNK (1u << 20) /* csv: the quote count reads this much at a time */
#define WINDOW_MAX (256u << 20) /* fastq: a read longer than this is not split before */
#define LOOK_BACK (2 * FRAMING_MAX_DELIMITER) /* lines: what a delimiter's match looks back at */

/*
 * The bytes last read while probing one file. Probes only move forward, so a probe that lands in
 * what was read already scans it instead of reading it again: with partitions much smaller than
 * the chunk, reading a whole chunk for each probe made planning cost partitions x 64 KiB.
 */
struct probe {
    int fd;
    const char *path;
    uint64_t size;
    unsigned char delimiter;
    uint64_t at; /* the file offset of buf[0] */
    size_t len;  /* bytes of buf that hold the file from `at` */
    char buf[PROBE_CHUNK];
};

/* Reads the chunk of the file that starts at pos into the probe's buffer. */
static int
probe_fill(struct probe *pr, uint64_t pos, struct error *err)
{
    size_t want = pr->size - pos < sizeof(pr->buf) ? (size_t)(pr->size - pos) : sizeof(pr->buf);
    ssize_t got = io_pread_full(pr->fd, pr->buf, want, pos);

    if (got < 0) {
        return error_errno(err, "%s: read error at byte offset %llu", pr->path,
                           (unsigned long long)pos);
    }
    if (got == 0) {
        return error_set(err, "%s: file shrank while planning (end at byte offset %llu)", pr->path,
                         (unsigned long long)pos);
    }
    pr->at = pos;
    pr->len = (size_t)got;
    return 0;
}

/*
 * Sets *next to the offset just after the first delimiter at or after `from`, or to the size when
 * there is none. Reads forward in chunks, so a long record costs a scan but no memory.
 */
static int
next_boundary(struct probe *pr, uint64_t from, uint64_t *next, struct error *err)
{
    uint64_t pos = from;

    while (pos < pr->size) {
        const char *hit;
        size_t skip;

        if ((pos < pr->at || pos >= pr->at + pr->len) && probe_fill(pr, pos, err) != 0) {
            return -1;
        }
        skip = (size_t)(pos - pr->at);
        hit = memchr(pr->buf + skip, pr->delimiter, pr->len - skip);
        if (hit != NULL) {
            *next = pr->at + (uint64_t)(hit - pr->buf) + 1;
            return 0;
        }
        pos = pr->at + pr->len;
    }
    *next = pr->size;
    return 0;
}

struct partition *
plan_push(struct plan *plan, size_t file, uint64_t start, uint64_t end)
{
    struct partition *p;

    if (GROW(plan->parts, plan->cap, plan->n_parts + 1) != 0) {
        return NULL;
    }
    p = &plan->parts[plan->n_parts];
    memset(p, 0, sizeof(*p));
    p->index = plan->n_parts;
    p->number = plan->number_base + plan->n_parts;
    p->file = file;
    p->start = start;
    p->end = end;
    plan->n_parts++;
    return p;
}

int
plan_is_full(const struct plan *plan)
{
    return plan->n_parts >= PLAN_MAX_PARTITIONS;
}

/* plan_push for the planned inputs, which are bounded by PLAN_MAX_PARTITIONS. */
static struct partition *
push_planned(struct plan *plan, size_t file, const char *path, uint64_t start, uint64_t end,
             struct error *err)
{
    struct partition *p;

    if (plan_is_full(plan)) {
        error_set(err, "%s: the plan has more than %d partitions", path, PLAN_MAX_PARTITIONS);
        return NULL;
    }
    p = plan_push(plan, file, start, end);
    if (p == NULL) {
        error_set(err, "out of memory planning %s", path);
    }
    return p;
}

/* The bytes of a file around a probe, for the formats other than lines of one byte. */
struct window {
    int fd;
    const char *path;
    uint64_t size;
    char *buf;
    size_t cap;
    uint64_t at; /* buf[0] is this offset of the file */
    size_t len;
};

/* Loads [at, at + want) of the file (less at its end) into the window. */
static int
window_load(struct window *w, uint64_t at, size_t want, struct error *err)
{
    ssize_t got;

    if (want > w->size - at) {
        want = (size_t)(w->size - at);
    }
    if (GROW(w->buf, w->cap, want + 1) != 0) {
        return error_set(err, "out of memory planning %s", w->path);
    }
    got = io_pread_full(w->fd, w->buf, want, at);
    if (got < 0) {
        return error_errno(err, "%s: read error at byte offset %llu", w->path,
                           (unsigned long long)at);
    }
    if ((size_t)got < want) {
        return error_set(err, "%s: file shrank while planning (end at byte offset %llu)", w->path,
                         (unsigned long long)(at + (uint64_t)got));
    }
    w->at = at;
    w->len = want;
    return 0;
}

/* csv: the quote parity of the file's bytes [from, to). */
static int
parity_between(struct window *w, const struct framing *fr, uint64_t from, uint64_t to,
               unsigned *parity, struct error *err)
{
    while (from < to) {
        size_t n = to - from < PARITY_CHUNK ? (size_t)(to - from) : PARITY_CHUNK;

        if (window_load(w, from, n, err) != 0) {
            return -1;
        }
        *parity ^= framing_quote_parity(fr->quote, w->buf, w->len);
        from += n;
    }
    return 0;
}

/*
 * framing_next's rules for the boundary after `from` in a file whose record at `start` is known:
 * lines of several bytes look back LOOK_BACK bytes; a FASTQ read is recognised from the line
 * before it on, reading further while a candidate needs more lines; CSV carries the quote parity
 * of [start, from), counted from start. Sets *next, or the size when there is none.
 */
static int
next_framed(struct window *w, const struct framing *fr, uint64_t start, uint64_t from,
            uint64_t *next, struct error *err)
{
    uint64_t wstart = from;
    size_t want = PROBE_CHUNK, at;
    unsigned parity = 0;

    if (fr->kind == TRANCHE_FORMAT_CSV && parity_between(w, fr, start, from, &parity, err) != 0) {
        return -1;
    }
    if (fr->kind == TRANCHE_FORMAT_LINES) {
        wstart = from - start > LOOK_BACK ? from - LOOK_BACK : start;
    }
    for (;;) {
        int eof, rc;

        if (window_load(w, wstart, want, err) != 0) {
            return -1;
        }
        eof = w->at + w->len == w->size;
        rc = framing_boundary(fr, w->buf, w->len, (size_t)(from - wstart), parity, eof, &at);
        if (rc == FRAMING_RECORD) {
            *next = wstart + at;
            return 0;
        }
        if (eof) {
            break;
        }
        if (fr->kind == TRANCHE_FORMAT_FASTQ) {
            /* the candidate needs more lines: read more of the same stretch */
            if (want >= WINDOW_MAX) {
                break;
            }
            want *= 2;
            continue;
        }
        if (fr->kind == TRANCHE_FORMAT_CSV) {
            parity ^= framing_quote_parity(fr->quote, w->buf + (from - wstart),
                                           w->len - (size_t)(from - wstart));
        }
        from = w->at + w->len;
        wstart =
            fr->kind == TRANCHE_FORMAT_LINES && from - start > LOOK_BACK ? from - LOOK_BACK : from;
    }
    *next = w->size;
    return 0;
}

int
plan_add_file(struct plan *plan, size_t file, const char *path, int fd, uint64_t size,
              uint64_t target, const struct framing *fr, struct error *err)
{
    struct window w = {.fd = fd, .path = path, .size = size};
    struct probe *pr = NULL;
    uint64_t start = 0, end;
    int rc = -1;

    if (target == 0) {
        target = 1;
    }
    if (framing_is_simple(fr)) {
        pr = malloc(sizeof(*pr));
        if (pr == NULL) {
            return error_set(err, "out of memory planning %s", path);
        }
        *pr = (struct probe){.fd = fd, .path = path, .size = size, .delimiter = fr->delim[0]};
    }
    while (start < size) {
        if (size - start <= target) {
            end = size;
        } else if ((pr != NULL ? next_boundary(pr, start + target - 1, &end, err)
                               : next_framed(&w, fr, start, start + target - 1, &end, err)) != 0) {
            goto out;
        }
        if (push_planned(plan, file, path, start, end, err) == NULL) {
            goto out;
        }
        start = end;
    }
    rc = 0;
out:
    free(pr);
    free(w.buf);
    return rc;
}

int
plan_add_bgzf(struct plan *plan, size_t file, const char *path, const struct bgzf_index *idx,
              uint64_t target, struct error *err)
{
    size_t first = 0, b;
    uint64_t bytes = 0;

    if (target == 0) {
        target = 1;
    }
    for (b = 0; b < idx->n; b++) {
        bytes += idx->blocks[b].isize;
        if (bytes < target && b + 1 < idx->n) {
            continue;
        }
        if (bytes == 0) {
            /* Empty blocks at the end (the EOF block) join the partition before them. */
            if (plan->n_parts > 0 && plan->parts[plan->n_parts - 1].file == file) {
                plan->parts[plan->n_parts - 1].end_block = b + 1;
            }
        } else {
            struct partition *p = push_planned(plan, file, path, idx->blocks[first].ustart,
                                               idx->blocks[first].ustart + bytes, err);
            if (p == NULL) {
                return -1;
            }
            p->first_block = first;
            p->end_block = b + 1;
        }
        first = b + 1;
        bytes = 0;
    }
    return 0;
}

int
plan_add_gzindex(struct plan *plan, size_t file, const char *path, const struct gz_index *idx,
                 uint64_t target, struct error *err)
{
    size_t first = 0, k;
    struct partition *p;

    if (target == 0) {
        target = 1;
    }
    for (k = 1; k <= idx->n; k++) {
        uint64_t end = k < idx->n ? idx->points[k].out : idx->usize;
        if (k < idx->n && end - idx->points[first].out < target) {
            continue;
        }
        if (end == idx->points[first].out) {
            break; /* only an empty tail (members without data) is left: the last one reads it */
        }
        p = push_planned(plan, file, path, idx->points[first].out, end, err);
        if (p == NULL) {
            return -1;
        }
        p->first_block = first;
        p->end_block = k;
        first = k;
    }
    if (plan->n_parts > 0 && plan->parts[plan->n_parts - 1].file == file) {
        plan->parts[plan->n_parts - 1].end_block = idx->n; /* the last reads to the end */
    }
    return 0;
}

void
plan_release(struct plan *plan)
{
    free(plan->parts);
    memset(plan, 0, sizeof(*plan));
}
