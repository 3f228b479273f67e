/* core/stream.c: decoding a gzip file into a shared ring and cutting it into partitions. */
#include "stream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gzindex.h"
#include "gzread.h"

/* A first run leaves an index only for a file with at least this many access points (the start
 * and two more): one that decodes to less than two spacings would be one or two partitions at
 * most, and measured, its index did not pay for itself (`tranche index` writes one regardless). */
#define STREAM_MIN_INDEX_POINTS 3

struct stream {
    char *base; /* the ring, mapped twice in a row: base[i] and base[i + size] are one byte */
    size_t size;
    uint64_t head; /* ring position of the next byte decoded */
    uint64_t tail; /* ring position of the first byte still in use */

    /* The file being decoded (reader), or read as it is (fd, after head). */
    size_t file;
    char *path;
    struct gz_reader *reader;
    int fd;
    int sequential;
    unsigned char ahead[2]; /* bytes read from fd already (to tell gzip), which come first */
    size_t ahead_len;
    uint64_t in; /* bytes read of a plain stream */
    struct gz_index_writer *index;
    uint64_t target;
    const struct framing *fr;
    uint64_t cut;     /* ring position where the partition being decoded begins */
    uint64_t cut_out; /* its decompressed offset in the file */
    uint64_t scan;    /* ring position from which to look for its end */
    unsigned parity;  /* csv: the quote parity of [cut, scan) */
    char note[ERROR_MSG_MAX + 64];
};

int
stream_new(size_t size, struct stream **out, struct error *err)
{
    struct stream *s = calloc(1, sizeof(*s));
    char *base;

    if (s == NULL) {
        return error_set(err, "out of memory");
    }
    /* Shared anonymous memory (not a memfd, which a file size limit would refuse), mapped a
     * second time right after itself: mremap with old_size 0 maps the same pages again. */
    base = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        free(s);
        return error_errno(err, "cannot map the decoding ring of %zu MiB", size >> 20);
    }
    s->base = base;
    s->size = size;
    if (mmap(base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
            MAP_FAILED ||
        mremap(base, 0, size, MREMAP_MAYMOVE | MREMAP_FIXED, base + size) == MAP_FAILED) {
        error_errno(err, "cannot map the decoding ring of %zu MiB", size >> 20);
        stream_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void
stream_free(struct stream *s)
{
    if (s == NULL) {
        return;
    }
    if (s->base != NULL) {
        munmap(s->base, 2 * s->size);
    }
    gz_reader_free(s->reader);
    gz_index_writer_abort(s->index);
    free(s->path);
    free(s);
}

char *
stream_data(const struct stream *s, const struct partition *p)
{
    return s->base + (size_t)(p->ring_at % s->size);
}

/* The reader's access points go to the index; failing to write it (a full disk, a quota) only
 * ends the index, not the job. */
static int
record_point(void *arg, const struct gz_point *pt, const unsigned char *window, struct error *err)
{
    struct stream *s = arg;
    struct error ierr;

    (void)err;
    if (s->index != NULL && gz_index_writer_add(s->index, pt, window, &ierr) != 0) {
        snprintf(s->note, sizeof(s->note), "no index written: %s", ierr.msg);
        gz_index_writer_abort(s->index);
        s->index = NULL;
        gz_reader_track(s->reader, 0, NULL, NULL);
    }
    return 0;
}

/* The reader of a gzip source: by pread, or in order from a pipe. */
static int
start_reader(struct stream *s, const struct stream_source *src, struct error *err)
{
    if (src->sequential) {
        return gz_reader_new_sequential(src->fd, src->path, src->head, src->head_len, &s->reader,
                                        err);
    }
    return gz_reader_new(src->fd, src->path, (uint64_t)src->st->st_size, &s->reader, err);
}

int
stream_start(struct stream *s, const struct stream_source *src, uint64_t target,
             const struct framing *fr, uint64_t index_spacing, int index_beside, struct error *err)
{
    struct error ierr;

    gz_reader_free(s->reader);
    s->reader = NULL;
    gz_index_writer_abort(s->index);
    s->index = NULL;
    free(s->path);
    s->path = strdup(src->path);
    if (s->path == NULL) {
        return error_set(err, "out of memory");
    }
    s->fd = src->fd;
    s->sequential = src->sequential;
    s->ahead_len = src->head_len < sizeof(s->ahead) ? src->head_len : sizeof(s->ahead);
    memcpy(s->ahead, src->head, s->ahead_len);
    s->in = 0;
    if (src->gzip && start_reader(s, src, err) != 0) {
        return -1;
    }
    s->note[0] = '\0';
    if (src->gzip && index_spacing > 0) {
        if (gz_index_writer_new(src->path, src->st, index_spacing, index_beside, &s->index,
                                &ierr) == 0) {
            gz_reader_track(s->reader, index_spacing, record_point, s);
        } else {
            snprintf(s->note, sizeof(s->note), "no index written: %s", ierr.msg);
        }
    }
    s->file = src->file;
    s->target = target > 0 ? target : 1;
    s->fr = fr;
    s->cut = s->scan = s->head;
    s->parity = 0;
    s->cut_out = 0;
    return 0;
}

static int
publish(struct stream *s, struct plan *plan, uint64_t end, struct error *err)
{
    struct partition *p = plan_push(plan, s->file, s->cut_out, s->cut_out + (end - s->cut));

    if (p == NULL) {
        return error_set(err, "out of memory");
    }
    p->ring_at = s->cut;
    s->cut_out += end - s->cut;
    s->cut = s->scan = end;
    s->parity = 0;
    return 0;
}

/* Cuts every partition that is complete in the ring. */
static int
cut_partitions(struct stream *s, struct plan *plan, struct error *err)
{
    while (s->head - s->cut >= s->target) {
        const char *at_cut = s->base + (size_t)(s->cut % s->size);
        const int csv = s->fr->kind == TRANCHE_FORMAT_CSV;
        uint64_t from = s->cut + s->target - 1;
        size_t at;

        if (s->scan > from) {
            from = s->scan;
        } else if (csv) {
            s->parity ^= framing_quote_parity(s->fr->quote, at_cut + (size_t)(s->scan - s->cut),
                                              (size_t)(from - s->scan));
        }
        if (framing_boundary(s->fr, at_cut, (size_t)(s->head - s->cut), (size_t)(from - s->cut),
                             s->parity, 0, &at) != FRAMING_RECORD) {
            /* Nothing yet: look on from here next time (a FASTQ candidate needs the lines after
             * it, so that search starts over). */
            if (s->fr->kind != TRANCHE_FORMAT_FASTQ) {
                if (csv) {
                    s->parity ^= framing_quote_parity(
                        s->fr->quote, at_cut + (size_t)(from - s->cut), (size_t)(s->head - from));
                }
                s->scan = s->head;
            } else {
                s->scan = from;
            }
            return 0;
        }
        if (publish(s, plan, s->cut + at, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Up to room more bytes of the stream into out: decoded, or read as they are. Returns how many,
 * 0 at its end, or -1. */
static ssize_t
read_more(struct stream *s, unsigned char *out, size_t room, struct error *err)
{
    ssize_t n;

    if (s->reader != NULL) {
        return gz_reader_read(s->reader, out, room, err);
    }
    if (s->ahead_len > 0) {
        n = (ssize_t)(room < s->ahead_len ? room : s->ahead_len);
        memcpy(out, s->ahead, (size_t)n);
        memmove(s->ahead, s->ahead + n, s->ahead_len - (size_t)n);
        s->ahead_len -= (size_t)n;
    } else {
        while ((n = read(s->fd, out, room)) < 0 && errno == EINTR) {
        }
    }
    if (n < 0) {
        return error_errno(err, "cannot read %s at byte offset %" PRIu64, s->path, s->in);
    }
    s->in += (uint64_t)n;
    return n;
}

/* The end of the file: its last partition, and its index. */
static int
finish(struct stream *s, struct plan *plan, struct error *err)
{
    if (s->head > s->cut && publish(s, plan, s->head, err) != 0) {
        return -1;
    }
    if (s->index != NULL && gz_index_writer_points(s->index) < STREAM_MIN_INDEX_POINTS) {
        /* Too small to split in two: an index would cost a file and buy nothing. */
        gz_index_writer_abort(s->index);
        s->index = NULL;
        snprintf(s->note, sizeof(s->note),
                 "no index written: too small for one to pay (fewer than %d access points)",
                 STREAM_MIN_INDEX_POINTS);
    }
    if (s->index != NULL) {
        char *where = NULL;
        struct error ierr;
        struct gz_index_writer *w = s->index;
        s->index = NULL;
        if (gz_index_writer_commit(w, gz_reader_offset(s->reader), &where, &ierr) == 0) {
            snprintf(s->note, sizeof(s->note), "index written to %s", where);
        } else {
            snprintf(s->note, sizeof(s->note), "no index written: %s", ierr.msg);
        }
        free(where);
    }
    gz_reader_free(s->reader);
    s->reader = NULL;
    return 0;
}

int
stream_step(struct stream *s, struct plan *plan, size_t budget, enum stream_status *status,
            struct error *err)
{
    size_t done = 0;

    *status = STREAM_MORE;
    while (done < budget) {
        size_t room = s->size - (size_t)(s->head - s->tail);
        ssize_t n;

        if (room == 0) {
            if (s->cut == s->tail && s->sequential) {
                return error_set(err,
                                 "%s has a record longer than the %zu MiB a stream read in one "
                                 "process can hold (at byte %" PRIu64 " of its records); write it "
                                 "to a file first",
                                 s->path, s->size >> 20, s->cut_out);
            }
            if (s->cut == s->tail) {
                return error_set(err,
                                 "%s has a record longer than the %zu MiB a gzip stream "
                                 "decoded in one process can hold; build its index first "
                                 "(tranche index %s), and each worker decodes on its own",
                                 s->path, s->size >> 20, s->path);
            }
            *status = STREAM_FULL;
            return 0;
        }
        if (room > budget - done) {
            room = budget - done;
        }
        n = read_more(s, (unsigned char *)s->base + (size_t)(s->head % s->size), room, err);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            *status = STREAM_END;
            return finish(s, plan, err);
        }
        s->head += (uint64_t)n;
        done += (size_t)n;
        if (cut_partitions(s, plan, err) != 0) {
            return -1;
        }
    }
    return 0;
}

void
stream_release(struct stream *s, uint64_t upto)
{
    if (upto > s->tail) {
        s->tail = upto;
    }
}

uint64_t
stream_in_offset(const struct stream *s)
{
    return s->reader != NULL ? gz_reader_in_offset(s->reader) : 0;
}

const char *
stream_index_note(const struct stream *s)
{
    return s->note;
}
