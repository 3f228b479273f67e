/*
 * core/source.c: reading partitions and cutting them into records (see source.h). Plain
 * partitions start and end at records (the plan cut them so); decoded ones are cut by the
 * ownership rule in feed_owned().
 */
#include "source.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bgzf.h"
#include "grow.h"
#include "gzindex.h"
#include "gzread.h"
#include "io.h"

#define READ_BUF_SIZE (1u << 20)
#define TAIL_STEP (64u << 10) /* read past a partition in steps this small */

struct source {
    const struct framing *fr;
    unsigned char delim; /* fr's one-byte delimiter, for the partitions that start mid-record */
    const volatile sig_atomic_t *stop;   /* non-zero: give up between buffers */
    struct bgzf_decoder *decoder;        /* for BGZF inputs, made on first use */
    struct gz_reader *reader;            /* for indexed gzip inputs: the last one read */
    const struct input *reader_in;       /* the input reader reads */
    struct gz_segment_decoder *segments; /* the same, whole segments at a time (libdeflate) */
    int segments_made;
    unsigned char *window; /* GZ_WINDOW bytes: an access point's window */

    /* The last input read, open (and its index, for indexed gzip), kept for its next partition. */
    const struct input *open_in;
    int fd;
    int index_fd;

    /* The partition being read. */
    const struct partition *p;
    const struct input *in;
    source_record_fn fn;
    source_bad_fn bad; /* NULL: a malformed record fails the partition */
    void *arg;
    int borrowed;   /* the bytes are in the ring: the byte after the partition is not ours */
    int header;     /* the next record is the file's header row: not fed */
    uint64_t limit; /* feed() feeds no record that starts at or past this offset... */
    int reached;    /* ...and sets this when it came to one */
    char *last;     /* the ring's last record without a delimiter, copied to end it with a NUL */
    size_t last_cap;
};

/*
 * Decoded bytes on their way to records: buf[0, have) holds the bytes from input offset `base` on.
 * While `skipping`, the bytes up to the first delimiter are dropped (a record that began before
 * the partition). buf[0, clean) is known to hold no delimiter, so that a long record is not
 * scanned again each time it grows. buf has room for cap bytes and one more.
 */
struct cursor {
    char *buf;
    size_t cap;
    size_t have;
    uint64_t base;
    size_t clean;
    int skipping;
    int prev_nl; /* a FASTQ partition: the byte before it is a newline */
};

static int
cursor_init(struct cursor *cur, uint64_t base, struct error *err)
{
    memset(cur, 0, sizeof(*cur));
    cur->base = base;
    cur->buf = malloc(READ_BUF_SIZE + 1);
    if (cur->buf == NULL) {
        return error_set(err, "out of memory");
    }
    cur->cap = READ_BUF_SIZE;
    return 0;
}

/* Makes room for `room` more bytes after what buf holds. */
static int
cursor_reserve(struct cursor *cur, size_t room, struct error *err)
{
    size_t alloc = cur->cap + 1;

    if (cur->cap - cur->have >= room) {
        return 0;
    }
    if (GROW(cur->buf, alloc, cur->have + room + 1) != 0) {
        return error_set(err, "out of memory for %zu bytes of input", cur->have + room);
    }
    cur->cap = alloc - 1;
    return 0;
}

static int
interrupted(const struct source *s, struct error *err)
{
    if (s->stop != NULL && *s->stop) {
        return error_set(err, "interrupted");
    }
    return 0;
}

/*
 * A record of the ring, with data[len] == '\0' (see feed): the ring's partition is borrowed, so the
 * delimiter is put back after the call, and a last record without one is copied, as the ring's
 * next byte may be another partition's.
 */
static int
call_borrowed(struct source *s, char *data, size_t len, uint64_t offset, int delimited)
{
    char saved;
    int rc;

    if (!delimited) {
        if (GROW(s->last, s->last_cap, len + 1) != 0) {
            return -1;
        }
        memcpy(s->last, data, len);
        data = s->last;
    }
    saved = data[len];
    data[len] = '\0';
    rc = s->fn(s->arg, data, len, offset);
    data[len] = saved;
    return rc;
}

/*
 * Feeds the complete records in buf[0, len) (starting at input offset `offset`); *consumed is
 * how many bytes they took. With `last`, what follows the last delimiter is a record too (the
 * end of a file without a final delimiter; buf[len] must then be writable).
 *
 * Each record is handed over with data[len] == '\0' (plugin.h's promise) without a copy: the
 * byte after a record is its delimiter or, for a last record without one, the spare byte every
 * cursor buffer keeps; the bytes of a record fed are not looked at again.
 */
static int
feed(struct source *s, char *buf, size_t len, uint64_t offset, int last, size_t *consumed,
     struct error *err)
{
    size_t pos = 0;
    int rc;

    while (pos < len) {
        struct framing_scan st = FRAMING_SCAN_INIT;
        size_t rec_len, total;
        const char *why;

        if (offset + pos >= s->limit) {
            s->reached = 1;
            break;
        }
        rc = framing_next(s->fr, &st, buf + pos, len - pos, last, &rec_len, &total, &why);
        if (rc == FRAMING_MORE) {
            if (last) {
                pos = len; /* blank lines at the end of a FASTQ file */
            }
            break;
        }
        if (rc == FRAMING_BAD && s->bad != NULL) {
            /* on_error: skip: the malformed bytes up to where the next record starts (a FASTQ
             * read found as the planner finds one; nothing follows an unclosed quote) */
            size_t at;

            if (s->fr->kind == TRANCHE_FORMAT_FASTQ &&
                framing_boundary(s->fr, buf + pos, len - pos, 1, 0, last, &at) == FRAMING_RECORD) {
                rec_len = at;
            } else if (last) {
                rec_len = len - pos;
            } else {
                break; /* more bytes tell where it ends */
            }
            if (s->bad(s->arg, buf + pos, rec_len, offset + pos, why) != 0) {
                *consumed = pos;
                return error_set(err, "stopped by a step");
            }
            pos += rec_len;
            continue;
        }
        if (rc == FRAMING_BAD) {
            *consumed = pos;
            return error_set(err, "%s: malformed %s record at byte offset %" PRIu64 ": %s",
                             s->in->path, framing_kind_name(s->fr->kind), offset + pos, why);
        }
        if (s->header) {
            s->header = 0; /* the file's header row: input.c has it */
            rc = 0;
        } else if (!s->borrowed) {
            buf[pos + rec_len] = '\0';
            rc = s->fn(s->arg, buf + pos, rec_len, offset + pos);
        } else {
            rc = call_borrowed(s, buf + pos, rec_len, offset + pos, total > rec_len);
        }
        if (rc != 0) {
            *consumed = pos;
            return error_set(err, "stopped by a step");
        }
        pos += total;
    }
    *consumed = pos;
    return 0;
}

/* Drops what precedes the first record that starts in the partition. Sets *none when no record
 * starts in it at all. */
static void
skip_partial(struct source *s, struct cursor *cur, char *buf, size_t *have, int bounded, int *none)
{
    char *hit = memchr(buf + cur->clean, s->delim, *have - cur->clean);
    size_t consumed = hit != NULL ? (size_t)(hit - buf) + 1 : *have;

    cur->base += consumed;
    memmove(buf, buf + consumed, *have - consumed);
    *have -= consumed;
    cur->clean = 0;
    cur->skipping = hit == NULL;
    *none = bounded && cur->base >= s->p->end;
    if (*none) {
        *have = 0;
    }
}

/*
 * The ownership rule over decoded bytes buf[0, *have) at cur->base (buf is cur->buf or memory
 * just in front of it): drops a record begun before the partition, then feeds the complete
 * records; when `bounded`, the last is the one that starts before p->end (wherever it ends).
 * Keeps an incomplete record at the start of buf. Sets *done when every record that starts in
 * the partition has been fed.
 */
static int
feed_owned_simple(struct source *s, struct cursor *cur, char *buf, size_t *have, int bounded,
                  int *done, struct error *err)
{
    const uint64_t end = s->p->end;
    size_t consumed, from;
    int finishing = 0;
    char *hit;

    *done = 0;
    if (cur->skipping) {
        skip_partial(s, cur, buf, have, bounded, done);
        if (*done || cur->skipping) {
            return 0;
        }
    }
    if (bounded && cur->base + *have >= end) {
        /* Past the partition: the last record ends at the first delimiter from end - 1. */
        from = end - 1 >= cur->base ? (size_t)(end - 1 - cur->base) : 0;
        from = from > cur->clean ? from : cur->clean;
        hit = memchr(buf + from, s->delim, *have - from);
        if (hit != NULL) {
            *have = (size_t)(hit - buf) + 1;
            finishing = 1;
        }
    }
    if (!finishing && memchr(buf + cur->clean, s->delim, *have - cur->clean) == NULL) {
        cur->clean = *have; /* no record ends yet: a long one is scanned once, not each time */
        return 0;
    }
    if (feed(s, buf, *have, cur->base, finishing, &consumed, err) != 0) {
        return -1;
    }
    cur->base += consumed;
    if (consumed > 0) {
        memmove(buf, buf + consumed, *have - consumed);
    }
    *have -= consumed;
    cur->clean = *have; /* what feed left holds no delimiter */
    *done = finishing;
    return 0;
}

/*
 * A FASTQ partition that starts inside the decoded bytes (a BGZF block, a gzip access point):
 * its first read is where the planner's rule finds one (framing_boundary; at the partition's
 * first byte when the byte before it is a newline and a read begins there), which is where the
 * partition before it stops; from there reads are fed in order, up to the last that starts
 * before p->end. Returns 0 with *found 0 while the bytes do not tell yet (`eof`: there is none).
 */
static int
sync_framed(struct source *s, struct cursor *cur, char *buf, size_t *have, int eof, int *found)
{
    struct framing_scan st = FRAMING_SCAN_INIT;
    size_t at = 0, rec_len, total;
    int rc = cur->prev_nl ? framing_next(s->fr, &st, buf, *have, eof, &rec_len, &total, NULL)
                          : FRAMING_BAD;

    *found = 0;
    if (rc == FRAMING_MORE && !eof) {
        return 0;
    }
    if (rc != FRAMING_RECORD) {
        rc = framing_boundary(s->fr, buf, *have, 0, 0, eof, &at);
        if (rc != FRAMING_RECORD) {
            if (eof) {
                *have = 0; /* no read starts in the rest */
            }
            return 0;
        }
    }
    cur->base += at;
    memmove(buf, buf + at, *have - at);
    *have -= at;
    cur->skipping = 0;
    *found = 1;
    return 0;
}

static int
feed_owned_framed(struct source *s, struct cursor *cur, char *buf, size_t *have, int bounded,
                  int *done, struct error *err)
{
    size_t consumed;
    int found;

    *done = 0;
    if (cur->skipping) {
        sync_framed(s, cur, buf, have, 0, &found);
        if (!found) {
            return 0;
        }
        if (bounded && cur->base >= s->p->end) {
            *done = 1; /* no read starts in the partition */
            *have = 0;
            return 0;
        }
    }
    s->limit = bounded ? s->p->end : UINT64_MAX;
    s->reached = 0;
    if (feed(s, buf, *have, cur->base, 0, &consumed, err) != 0) {
        return -1;
    }
    cur->base += consumed;
    memmove(buf, buf + consumed, *have - consumed);
    *have -= consumed;
    if (s->reached) {
        *done = 1;
        *have = 0;
    }
    return 0;
}

/* The ownership rule, for the format's records. */
static int
feed_owned(struct source *s, struct cursor *cur, char *buf, size_t *have, int bounded, int *done,
           struct error *err)
{
    if (framing_is_simple(s->fr)) {
        return feed_owned_simple(s, cur, buf, have, bounded, done, err);
    }
    return feed_owned_framed(s, cur, buf, have, bounded, done, err);
}

/* Feeds what is left at the end of the input: the end of the file ends the last record,
 * delimiter or not. */
static int
feed_rest(struct source *s, struct cursor *cur, struct error *err)
{
    size_t consumed;
    int found;

    if (cur->have > 0 && cur->skipping && !framing_is_simple(s->fr)) {
        sync_framed(s, cur, cur->buf, &cur->have, 1, &found);
    }
    return cur->have > 0 ? feed(s, cur->buf, cur->have, cur->base, 1, &consumed, err) : 0;
}

/* A plain partition: [p->start, p->end) read in buffers; a record longer than the buffer grows
 * it. */
static int
read_plain(struct source *s, struct error *err)
{
    const struct partition *p = s->p;
    struct cursor cur;
    uint64_t pos = p->start;
    size_t consumed;
    int rc = -1;

    if (cursor_init(&cur, p->start, err) != 0) {
        return -1;
    }
    while (pos < p->end || cur.have > 0) {
        size_t want = cur.cap - cur.have;
        ssize_t n;

        if (interrupted(s, err) != 0) {
            goto out;
        }
        if (want > p->end - pos) {
            want = (size_t)(p->end - pos);
        }
        n = io_pread_full(s->fd, cur.buf + cur.have, want, pos);
        if (n < 0) {
            error_errno(err, "cannot read %s at byte offset %" PRIu64, s->in->path, pos);
            goto out;
        }
        if ((size_t)n < want) {
            error_set(err,
                      "%s ended at byte offset %" PRIu64 " while reading (did the file change "
                      "during the job?)",
                      s->in->path, pos + (uint64_t)n);
            goto out;
        }
        cur.have += want;
        pos += want;
        if (feed(s, cur.buf, cur.have, pos - cur.have, pos == p->end, &consumed, err) != 0) {
            goto out;
        }
        memmove(cur.buf, cur.buf + consumed, cur.have - consumed);
        cur.have -= consumed;
        if (cur.have == cur.cap && cursor_reserve(&cur, cur.cap, err) != 0) {
            goto out;
        }
    }
    rc = 0;
out:
    free(cur.buf);
    return rc;
}

/* A BGZF partition begins at a record only if the byte before it ends one: decodes the last
 * non-empty block before the partition for that byte. */
static int
bgzf_starts_inside(struct source *s, struct cursor *cur, struct error *err)
{
    const struct bgzf_index *gz = &s->in->bgzf;
    size_t k = s->p->first_block;

    while (k > 0 && gz->blocks[k - 1].isize == 0) {
        k--;
    }
    if (k == 0) {
        return 0;
    }
    if (cursor_reserve(cur, gz->blocks[k - 1].isize, err) != 0 ||
        bgzf_decode_block(s->decoder, s->fd, s->in->path, &gz->blocks[k - 1],
                          (unsigned char *)cur->buf, err) != 0) {
        return -1;
    }
    cur->prev_nl = cur->buf[gz->blocks[k - 1].isize - 1] == '\n';
    cur->skipping = framing_is_simple(s->fr)
                        ? (unsigned char)cur->buf[gz->blocks[k - 1].isize - 1] != s->delim
                        : 1;
    return 0;
}

/* A BGZF partition: decodes its blocks, and the blocks after it while its last record runs on. */
static int
read_bgzf(struct source *s, struct error *err)
{
    const struct bgzf_index *gz = &s->in->bgzf;
    struct cursor cur;
    size_t b;
    int done = 0, rc = -1;

    if (cursor_init(&cur, s->p->start, err) != 0) {
        return -1;
    }
    if (s->decoder == NULL && bgzf_decoder_new(&s->decoder, err) != 0) {
        goto out;
    }
    if (bgzf_starts_inside(s, &cur, err) != 0) {
        goto out;
    }
    for (b = s->p->first_block; b < gz->n && !done; b++) {
        const struct bgzf_block *blk = &gz->blocks[b];

        if (interrupted(s, err) != 0 || cursor_reserve(&cur, blk->isize, err) != 0 ||
            bgzf_decode_block(s->decoder, s->fd, s->in->path, blk,
                              (unsigned char *)cur.buf + cur.have, err) != 0) {
            goto out;
        }
        cur.have += blk->isize;
        if (feed_owned(s, &cur, cur.buf, &cur.have, 1, &done, err) != 0) {
            goto out;
        }
    }
    rc = feed_rest(s, &cur, err);
out:
    free(cur.buf);
    return rc;
}

/* Indexed gzip input: where the walk over the access points stands. */
struct gz_walk {
    struct cursor cur;
    const struct gz_index *gzi;
    size_t k;         /* the point decoding goes on from */
    size_t reader_at; /* the point the reader stands at (SIZE_MAX: elsewhere) */
    int last_part;    /* the partition reads to the end of the file */
    int tail;         /* reading past p->end, to the end of the last record */
    int eof;          /* the reader reached the end of the file (every member checked) */
    int done;         /* every record of the partition has been fed */
};

/* Feeds a segment libdeflate decoded into data[0, n): the record carried over goes just in front
 * of it when it fits in the scratch before the data (no copy of the segment), else the segment is
 * appended to the cursor. */
static int
feed_segment(struct source *s, struct gz_walk *w, unsigned char *data, size_t n, size_t scratch,
             int bounded, struct error *err)
{
    struct cursor *cur = &w->cur;
    char *region;
    size_t len;

    if (cur->have > scratch) {
        if (cursor_reserve(cur, n, err) != 0) {
            return -1;
        }
        memcpy(cur->buf + cur->have, data, n);
        cur->have += n;
        return feed_owned(s, cur, cur->buf, &cur->have, bounded, &w->done, err);
    }
    region = (char *)data - cur->have;
    memcpy(region, cur->buf, cur->have);
    len = cur->have + n;
    if (feed_owned(s, cur, region, &len, bounded, &w->done, err) != 0) {
        return -1;
    }
    cur->have = 0;
    if (cursor_reserve(cur, len, err) != 0) {
        return -1;
    }
    memcpy(cur->buf, region, len);
    cur->have = len;
    return 0;
}

/* Decodes the segment from point w->k to the next with libdeflate. Sets *ok to 0 (leaving it to
 * the reader) when the segment does not fit or libdeflate cannot decode it. */
static int
fast_segment(struct source *s, struct gz_walk *w, int *ok, struct error *err)
{
    const struct gz_index *gzi = w->gzi;
    struct gz_point from = gzi->points[w->k];
    const struct gz_point *to = &gzi->points[w->k + 1];
    unsigned char *data;
    struct error ignored;
    ssize_t n;

    *ok = 0;
    if (from.at_header) {
        /* (what gz_segment_fits will ask of the pair, before the header is parsed for it) */
        if (to->at_header || to->member_out != from.out) {
            return 0;
        }
        w->reader_at = SIZE_MAX; /* it parses the header with the reader */
        if (gz_reader_data_start(s->reader, &gzi->points[w->k], &from, &ignored) != 0) {
            return 0;
        }
    }
    if (!gz_segment_fits(s->segments, &from, to)) {
        return 0;
    }
    if (gz_index_window(gzi, s->index_fd, w->k, s->window, err) != 0) {
        return -1;
    }
    n = gz_segment_decode(s->segments, s->fd, s->in->path, &from, s->window, to, &data, &ignored);
    if (n < 0) {
        return 0;
    }
    *ok = 1;
    w->k++;
    return feed_segment(s, w, data, (size_t)n, gzi->points[w->k - 1].window_len,
                        s->p->end_block < gzi->n, err);
}

/*
 * Whole segments from point w->k on, decoded by libdeflate where they fit and checked against the
 * next point's CRC-32. Leaves w->k at the first point not reached this way (at most p->end_block,
 * and in the last partition at most the last point). A segment libdeflate cannot decode is left
 * to the reader, which decides whether the file is corrupt and says where.
 */
static int
fast_segments(struct source *s, struct gz_walk *w, struct error *err)
{
    struct error ignored;
    int ok = 1;

    if (!s->segments_made) {
        s->segments_made = 1;
        if (gz_segment_decoder_new(&s->segments, &ignored) != 0) {
            s->segments = NULL; /* the reader does it all, only slower */
        }
    }
    while (ok && !w->done && s->segments != NULL && w->k < s->p->end_block &&
           w->k + 1 < w->gzi->n) {
        if (interrupted(s, err) != 0 || fast_segment(s, w, &ok, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Checks that the reader, having decoded up to point j, agrees with the index there. */
static int
verify_point(struct source *s, const struct gz_walk *w, size_t j, struct error *err)
{
    struct error why;

    if (gz_reader_verify(s->reader, &w->gzi->points[j], &why) != 0) {
        return error_set(err, "%s (index %s)", why.msg, w->gzi->path);
    }
    return 0;
}

/*
 * Decodes on from where the reader is, past the end of the partition, to the next access point
 * (or the end of the file), and checks it there: the bytes that ended the partition's last record
 * are then checked even though the partition after it does not run (--partition K).
 */
static int
check_tail(struct source *s, struct gz_walk *w, struct error *err)
{
    const struct gz_index *gzi = w->gzi;
    uint64_t at = gz_reader_offset(s->reader);
    size_t j = s->p->end_block;

    while (j < gzi->n && gzi->points[j].out < at) {
        j++;
    }
    for (;;) {
        size_t room = w->cur.cap;
        ssize_t n;

        if (j < gzi->n && at == gzi->points[j].out) {
            return verify_point(s, w, j, err);
        }
        if (j < gzi->n && room > gzi->points[j].out - at) {
            room = (size_t)(gzi->points[j].out - at);
        }
        n = gz_reader_read(s->reader, (unsigned char *)w->cur.buf, room, err);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            if (j < gzi->n) {
                return error_set(err,
                                 "%s ends at decompressed byte %" PRIu64 ", before its index "
                                 "%s says",
                                 s->in->path, at, gzi->path);
            }
            return 0; /* the end of the file, every member checked */
        }
        at += (uint64_t)n;
    }
}

/* How much to read next: up to the next point, or, past the partition's end, only a little at a
 * time (a long last record costs twice its length, not the rest of the file). */
static size_t
read_room(const struct gz_walk *w, size_t next)
{
    const struct cursor *cur = &w->cur;
    size_t room = cur->cap - cur->have;
    uint64_t at = cur->base + cur->have;

    if (next < w->gzi->n && room > w->gzi->points[next].out - at) {
        return (size_t)(w->gzi->points[next].out - at);
    }
    if (w->tail && room > TAIL_STEP && room > cur->have) {
        return cur->have > TAIL_STEP ? cur->have : TAIL_STEP;
    }
    return room;
}

/* The reader ran out: that must be where the index says the file ends. */
static int
check_end(struct source *s, struct gz_walk *w, size_t next, struct error *err)
{
    uint64_t at = w->cur.base + w->cur.have;

    if (next < w->gzi->n || (w->last_part && at != s->p->end)) {
        return error_set(err,
                         "%s ends at decompressed byte %" PRIu64 ", not where its index %s says "
                         "(%" PRIu64 ")",
                         s->in->path, at, w->gzi->path,
                         next < w->gzi->n ? w->gzi->points[next].out : s->p->end);
    }
    w->eof = 1; /* every member is checked, and nothing follows the last */
    return 0;
}

/*
 * Decodes with the reader from point w->k to point `next` (checked there), or, past the
 * partition's end, only as far as the end of its last record, or, in the last partition, to the
 * end of the file. Sets *stop when there is nothing more to read for this partition.
 */
static int
reader_stretch(struct source *s, struct gz_walk *w, size_t next, int *stop, struct error *err)
{
    struct cursor *cur = &w->cur;
    int reached = 0;

    *stop = 0;
    while (!reached) {
        ssize_t n;

        if (interrupted(s, err) != 0 ||
            (cur->have == cur->cap && cursor_reserve(cur, cur->cap, err) != 0)) {
            return -1;
        }
        n = gz_reader_read(s->reader, (unsigned char *)cur->buf + cur->have, read_room(w, next),
                           err);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            *stop = 1;
            return check_end(s, w, next, err);
        }
        cur->have += (size_t)n;
        if (next < w->gzi->n && cur->base + cur->have == w->gzi->points[next].out) {
            if (verify_point(s, w, next, err) != 0) {
                return -1;
            }
            reached = 1;
        }
        if (feed_owned(s, cur, cur->buf, &cur->have, !w->last_part, &w->done, err) != 0) {
            return -1;
        }
        if (w->done) {
            *stop = 1;
            return 0;
        }
    }
    return 0;
}

/* A reader (and a window buffer) for this input; the last input's is kept. */
static int
make_reader(struct source *s, struct error *err)
{
    if (s->reader != NULL && s->reader_in == s->in) {
        return 0;
    }
    gz_reader_free(s->reader);
    s->reader = NULL;
    if (s->window == NULL && (s->window = malloc(GZ_WINDOW)) == NULL) {
        return error_set(err, "out of memory");
    }
    if (gz_reader_new(s->fd, s->in->path, (uint64_t)s->in->st.st_size, &s->reader, err) != 0) {
        return -1;
    }
    s->reader_in = s->in;
    return 0;
}

/* The reader at point k, unless it stands there already. */
static int
reader_at_point(struct source *s, struct gz_walk *w, struct error *err)
{
    if (w->reader_at == w->k) {
        return 0;
    }
    if (gz_index_window(w->gzi, s->index_fd, w->k, s->window, err) != 0) {
        return -1;
    }
    return gz_reader_seek(s->reader, &w->gzi->points[w->k], s->window, err);
}

/*
 * A partition of a gzip input read through its index: starts decoding at access point
 * p->first_block and owns the records that start in [p->start, p->end), as for BGZF. Every
 * stretch between two points is checked against the index on reaching the second (the CRC-32 so
 * far, or a member's trailer), whether libdeflate or the reader decoded it; the last partition
 * decodes to the end of the file, so every member is checked and nothing may follow the last.
 */
static int
read_gzindex(struct source *s, int check_tail_wanted, struct error *err)
{
    const struct partition *p = s->p;
    struct gz_walk w;
    int stop = 0, rc = -1;

    memset(&w, 0, sizeof(w));
    if (make_reader(s, err) != 0 || cursor_init(&w.cur, p->start, err) != 0) {
        return -1;
    }
    w.gzi = &s->in->gzi;
    w.k = p->first_block;
    w.reader_at = SIZE_MAX;
    w.last_part = p->end_block >= w.gzi->n;
    w.cur.skipping = p->start > 0 && (!framing_is_simple(s->fr) ||
                                      w.gzi->points[p->first_block].prev_byte != s->delim);
    w.cur.prev_nl = w.gzi->points[p->first_block].prev_byte == '\n';
    while (!stop) {
        size_t next;

        /* Whole segments with libdeflate while they fit; then the reader, from point k to the
         * next point, before trying libdeflate again. */
        if (fast_segments(s, &w, err) != 0) {
            goto out;
        }
        if (w.done) {
            rc = 0; /* (the last record was fed, and no tail is left to check) */
            goto out;
        }
        next = w.last_part || w.k < p->end_block ? w.k + 1 : SIZE_MAX;
        w.tail = next == SIZE_MAX;
        if (reader_at_point(s, &w, err) != 0 || reader_stretch(s, &w, next, &stop, err) != 0) {
            goto out;
        }
        w.k = next;
        w.reader_at = next;
    }
    if (feed_rest(s, &w.cur, err) != 0) {
        goto out;
    }
    rc = check_tail_wanted && w.tail && !w.eof ? check_tail(s, &w, err) : 0;
out:
    free(w.cur.buf);
    return rc;
}

int
source_new(const struct framing *fr, struct source **out, struct error *err)
{
    struct source *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        return error_set(err, "out of memory");
    }
    s->fr = fr;
    s->delim = fr->delim[0];
    s->fd = -1;
    s->index_fd = -1;
    *out = s;
    return 0;
}

/* Closes the input kept open, if any, and drops the reader that reads it. */
static void
close_input(struct source *s)
{
    gz_reader_free(s->reader);
    s->reader = NULL;
    s->reader_in = NULL;
    if (s->fd >= 0) {
        close(s->fd);
    }
    if (s->index_fd >= 0) {
        close(s->index_fd);
    }
    s->fd = s->index_fd = -1;
    s->open_in = NULL;
}

/* Opens input `in` (and its index), unless it is the one open already. */
static int
open_input(struct source *s, const struct input *in, struct error *err)
{
    if (s->open_in == in) {
        return 0;
    }
    close_input(s);
    s->fd = input_open(in, err);
    if (s->fd < 0) {
        return -1;
    }
    if (in->kind == INPUT_GZINDEX && (s->index_fd = gz_index_open(&in->gzi, err)) < 0) {
        close_input(s);
        return -1;
    }
    s->open_in = in;
    return 0;
}

void
source_free(struct source *s)
{
    if (s == NULL) {
        return;
    }
    close_input(s);
    bgzf_decoder_free(s->decoder);
    gz_reader_free(s->reader);
    gz_segment_decoder_free(s->segments);
    free(s->window);
    free(s->last);
    free(s);
}

void
source_set_bad(struct source *s, source_bad_fn bad)
{
    s->bad = bad;
}

void
source_set_stop(struct source *s, const volatile sig_atomic_t *stop)
{
    s->stop = stop;
}

int
source_read(struct source *s, const struct partition *p, const struct source_input *in,
            source_record_fn fn, void *arg, struct error *err)
{
    size_t consumed;
    int rc;

    s->p = p;
    s->in = in->input;
    s->fn = fn;
    s->arg = arg;
    s->borrowed = in->mem != NULL;
    s->header = s->fr->header && p->start == 0;
    s->limit = UINT64_MAX;
    if (in->mem != NULL) {
        /* A stream's partition, decoded by the parent: whole records, in memory. */
        rc = feed(s, in->mem, (size_t)(p->end - p->start), p->start, 1, &consumed, err);
    } else if (open_input(s, in->input, err) != 0) {
        rc = -1;
    } else if (s->in->kind == INPUT_GZINDEX) {
        rc = read_gzindex(s, in->check_tail, err);
    } else if (s->in->kind == INPUT_BGZF) {
        rc = read_bgzf(s, err);
    } else {
        rc = read_plain(s, err);
    }
    s->p = NULL;
    s->in = NULL;
    return rc;
}
