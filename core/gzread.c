/*
 * core/gzread.c: a gzip reader over zlib's raw inflate. The member headers and trailers are
 * parsed here rather than by zlib's gzip mode, so that a reader can start again in the middle of
 * a member (an access point), and so that the CRC-32 can be libdeflate's where the build has it.
 */
#include "gzread.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#ifdef TRANCHE_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "codec.h"
#include "grow.h"
#include "io.h"

#define IN_SIZE (256u << 10)

#define FLG_FHCRC 0x02
#define FLG_FEXTRA 0x04
#define FLG_FNAME 0x08
#define FLG_FCOMMENT 0x10
#define FLG_RESERVED 0xe0

enum gz_state { ST_HEADER, ST_DATA, ST_END };

struct gz_reader {
    int fd;
    char *path;
    uint64_t size;         /* SIZE_UNKNOWN for a sequential reader until it meets the end */
    int sequential;        /* read(), in order (a pipe), never pread */
    unsigned char head[2]; /* sequential: bytes the caller read already, to come first */
    size_t head_len;
    z_stream zs;
    int zs_ready;
    unsigned char *in;
    uint64_t in_off; /* file offset of in[0]; zs.next_in points into in[] */
    enum gz_state state;
    uint64_t out;        /* decompressed offset of the next byte */
    uint64_t member_out; /* decompressed offset where the current member's data began */
    uint64_t member_in;  /* compressed offset of the current member's header (or of the point
                          * decoding started from, when member_known is 0) */
    int member_known;
    int from_index; /* started at an access point: a missing header is the index's fault */
    uint32_t crc;   /* of the current member's data so far */
    uint64_t members;
    unsigned char last_byte;

    /* Access points: recorded through fn every `spacing` bytes when fn is set. */
    gz_point_fn fn;
    void *fn_arg;
    uint64_t spacing;
    uint64_t last_point_out;
    int have_point;
    unsigned char *window;
};

/* "the gzip member that begins at compressed offset N", or where the reader started from. */
static const char *
member_words(const struct gz_reader *r, char *buf, size_t size)
{
    snprintf(buf, size,
             r->member_known ? "the gzip member that begins at compressed offset %" PRIu64
                             : "a gzip member (read from the index's access point at compressed "
                               "offset %" PRIu64 ")",
             r->member_in);
    return buf;
}

/* The data decoded up to point pt is not what the index recorded there. Returns -1. */
static int
index_mismatch(const char *path, const struct gz_point *pt, struct error *err)
{
    return error_set(err,
                     "%s does not match its index at decompressed byte offset %" PRIu64
                     " (compressed offset %" PRIu64 "): the file is corrupt, or changed without "
                     "changing its size and time",
                     path, pt->out, pt->in);
}

static uint64_t
position(const struct gz_reader *r)
{
    return r->in_off + (uint64_t)(r->zs.next_in - r->in);
}

#define SIZE_UNKNOWN UINT64_MAX

/* refill() for a sequential reader: what the caller read first, then one read(); a read of
 * nothing is the end, which makes the size known. */
static int
refill_sequential(struct gz_reader *r, struct error *err)
{
    uint64_t pos = position(r);
    size_t have = r->head_len;
    ssize_t n = 0;

    memcpy(r->in, r->head, r->head_len);
    r->head_len = 0;
    while (r->size == SIZE_UNKNOWN && have == 0 && (n = read(r->fd, r->in, IN_SIZE)) < 0 &&
           errno == EINTR) {
    }
    if (n < 0) {
        return error_errno(err, "cannot read %s at byte offset %" PRIu64, r->path, pos);
    }
    have += (size_t)n;
    if (have == 0) {
        r->size = pos;
    }
    r->in_off = pos;
    r->zs.next_in = r->in;
    r->zs.avail_in = (uInt)have;
    return 0;
}

/* Reads more compressed input at the current position. Returns 0 (maybe with nothing more: the
 * end of the file) or -1. */
static int
refill(struct gz_reader *r, struct error *err)
{
    uint64_t pos = position(r);

    if (r->sequential) {
        return refill_sequential(r, err);
    }
    size_t want = r->size - pos < IN_SIZE ? (size_t)(r->size - pos) : IN_SIZE;
    ssize_t n = io_pread_full(r->fd, r->in, want, pos);

    if (n < 0) {
        return error_errno(err, "cannot read %s at byte offset %" PRIu64, r->path, pos);
    }
    if ((size_t)n < want) {
        return error_set(err,
                         "%s ended before byte offset %" PRIu64 " while reading (did the file "
                         "change during the job?)",
                         r->path, pos + want);
    }
    r->in_off = pos;
    r->zs.next_in = r->in;
    r->zs.avail_in = (uInt)want;
    return 0;
}

/* The next compressed byte into *c, or *eof = 1 (and *c untouched) at the end of the file. */
static int
next_byte(struct gz_reader *r, unsigned *c, int *eof, struct error *err)
{
    *eof = 0;
    if (r->zs.avail_in == 0) {
        if (refill(r, err) != 0) {
            return -1;
        }
        if (r->zs.avail_in == 0) {
            *eof = 1;
            return 0;
        }
    }
    *c = *r->zs.next_in++;
    r->zs.avail_in--;
    return 0;
}

/* Reads n header bytes (n <= 4) into *value (little-endian), adding them to the header CRC. */
static int
header_bytes(struct gz_reader *r, unsigned n, uint32_t *value, uint32_t *hcrc, struct error *err)
{
    unsigned i, c;
    unsigned char b;
    int eof;

    *value = 0;
    for (i = 0; i < n; i++) {
        if (next_byte(r, &c, &eof, err) != 0) {
            return -1;
        }
        if (eof) {
            return error_set(err,
                             "%s is truncated: it ends at compressed offset %" PRIu64
                             ", inside the gzip header that begins at compressed offset %" PRIu64,
                             r->path, r->size, r->member_in);
        }
        b = (unsigned char)c;
        *hcrc = (uint32_t)crc32(*hcrc, &b, 1);
        *value |= (uint32_t)c << (8 * i);
    }
    return 0;
}

/* Skips a zero-terminated header string (the file name or the comment). */
static int
header_string(struct gz_reader *r, uint32_t *hcrc, struct error *err)
{
    uint32_t c;

    do {
        if (header_bytes(r, 1, &c, hcrc, err) != 0) {
            return -1;
        }
    } while (c != 0);
    return 0;
}

static int
emit_point(struct gz_reader *r, struct gz_point *pt, const unsigned char *window, struct error *err)
{
    pt->out = r->out;
    pt->member_out = r->member_out;
    pt->prev_byte = r->last_byte;
    pt->window_at = 0;
    r->last_point_out = r->out;
    r->have_point = 1;
    return r->fn(r->fn_arg, pt, window, err);
}

static int
point_due(const struct gz_reader *r)
{
    return r->fn != NULL && (!r->have_point || r->out - r->last_point_out >= r->spacing);
}

/* Records the access point at the member header about to be read. */
static int
header_point(struct gz_reader *r, struct error *err)
{
    struct gz_point pt;

    memset(&pt, 0, sizeof(pt));
    pt.in = r->member_in;
    pt.member_out = r->out;
    pt.at_header = 1;
    r->member_out = r->out;
    return emit_point(r, &pt, NULL, err);
}

/* Reads the two bytes that begin a member: *is_gzip = 0 when they are not gzip's magic bytes (or
 * the file ends after one of them). */
static int
read_magic(struct gz_reader *r, int *is_gzip, struct error *err)
{
    unsigned c[2] = {0, 0};
    unsigned i;
    int eof = 0;

    for (i = 0; i < 2 && !eof; i++) {
        if (next_byte(r, &c[i], &eof, err) != 0) {
            return -1;
        }
    }
    *is_gzip = !eof && c[0] == 0x1f && c[1] == 0x8b;
    return 0;
}

/* No member begins at r->member_in: say why that is wrong there. Returns -1. */
static int
no_member(const struct gz_reader *r, struct error *err)
{
    if (r->from_index && r->members == 0) {
        return error_set(err,
                         "%s does not match its index: no gzip member header at "
                         "compressed offset %" PRIu64 " (the file is corrupt, or changed "
                         "without changing its size and time)",
                         r->path, r->member_in);
    }
    if (r->members == 0) {
        return error_set(err, "%s is not gzip: no gzip magic bytes at compressed offset 0",
                         r->path);
    }
    if (r->size == SIZE_UNKNOWN) {
        return error_set(err,
                         "%s has garbage after its last gzip member, at compressed offset %" PRIu64,
                         r->path, r->member_in);
    }
    return error_set(err,
                     "%s has %" PRIu64 " bytes of garbage after its last gzip member, "
                     "at compressed offset %" PRIu64,
                     r->path, r->size - r->member_in, r->member_in);
}

/* Reads the fixed fields after the magic bytes (method, flags, time, extra flags, OS) and checks
 * the method and the reserved flags; *flg gets the flags. */
static int
read_fixed_fields(struct gz_reader *r, uint32_t *flg, uint32_t *hcrc, struct error *err)
{
    uint32_t cm, flags, skip;

    if (header_bytes(r, 1, &cm, hcrc, err) != 0 || header_bytes(r, 1, &flags, hcrc, err) != 0 ||
        header_bytes(r, 4, &skip, hcrc, err) != 0 || header_bytes(r, 2, &skip, hcrc, err) != 0) {
        return -1;
    }
    if (cm != 8) {
        return error_set(err,
                         "%s: the gzip header at compressed offset %" PRIu64 " names compression "
                         "method %" PRIu32 " (only deflate, 8, exists)",
                         r->path, r->member_in, cm);
    }
    if (flags & FLG_RESERVED) {
        return error_set(err,
                         "%s: the gzip header at compressed offset %" PRIu64 " has reserved flag "
                         "bits set (0x%02" PRIx32 ")",
                         r->path, r->member_in, flags);
    }
    *flg = flags;
    return 0;
}

/* Skips the optional fields that flg announces (extra field, file name, comment), then checks
 * the header CRC if there is one. */
static int
read_optional_fields(struct gz_reader *r, uint32_t flg, uint32_t *hcrc, struct error *err)
{
    uint32_t xlen, skip, check, want;

    if (flg & FLG_FEXTRA) {
        if (header_bytes(r, 2, &xlen, hcrc, err) != 0) {
            return -1;
        }
        while (xlen-- > 0) {
            if (header_bytes(r, 1, &skip, hcrc, err) != 0) {
                return -1;
            }
        }
    }
    if (((flg & FLG_FNAME) && header_string(r, hcrc, err) != 0) ||
        ((flg & FLG_FCOMMENT) && header_string(r, hcrc, err) != 0)) {
        return -1;
    }
    if (!(flg & FLG_FHCRC)) {
        return 0;
    }
    want = *hcrc & 0xffff;
    if (header_bytes(r, 2, &check, hcrc, err) != 0) {
        return -1;
    }
    if (check != want) {
        return error_set(err,
                         "%s: the header CRC of the gzip member at compressed offset %" PRIu64
                         " does not match its header",
                         r->path, r->member_in);
    }
    return 0;
}

/* Parses a member header at the current position, or notes the end of the file. */
static int
begin_member(struct gz_reader *r, struct error *err)
{
    uint32_t flg = 0, hcrc;
    int is_gzip;

    if (r->sequential && r->zs.avail_in == 0 && refill(r, err) != 0) {
        return -1; /* (a stream's end is known only by reading it) */
    }
    r->member_in = position(r);
    if (r->member_in == r->size && r->members > 0) {
        r->state = ST_END;
        return 0;
    }
    if (r->member_in == r->size) {
        return error_set(err, "%s is empty: not a gzip file", r->path);
    }
    if (point_due(r) && header_point(r, err) != 0) {
        return -1;
    }
    if (read_magic(r, &is_gzip, err) != 0) {
        return -1;
    }
    if (!is_gzip) {
        return no_member(r, err);
    }
    hcrc = (uint32_t)crc32(0, (const unsigned char *)"\x1f\x8b", 2);
    if (read_fixed_fields(r, &flg, &hcrc, err) != 0 ||
        read_optional_fields(r, flg, &hcrc, err) != 0) {
        return -1;
    }
    if (inflateReset(&r->zs) != Z_OK) {
        return error_set(err, "%s: zlib's inflateReset failed", r->path);
    }
    r->crc = 0;
    r->member_out = r->out;
    r->member_known = 1;
    r->members++;
    r->state = ST_DATA;
    return 0;
}

/* Reads and checks the trailer of the member whose deflate data just ended. */
static int
end_member(struct gz_reader *r, struct error *err)
{
    uint64_t at = position(r);
    uint32_t want[2] = {0, 0};
    unsigned i, c;
    char words[160];
    int eof;

    for (i = 0; i < 8; i++) {
        if (next_byte(r, &c, &eof, err) != 0) {
            return -1;
        }
        if (eof) {
            return error_set(err,
                             "%s is truncated: it ends at compressed offset %" PRIu64
                             ", inside the trailer of %s",
                             r->path, r->size, member_words(r, words, sizeof(words)));
        }
        want[i / 4] |= (uint32_t)c << (8 * (i % 4));
    }
    if (want[0] != r->crc) {
        return error_set(
            err,
            "%s: CRC-32 mismatch in the gzip member ending at compressed offset %" PRIu64
            " (the data is corrupt)",
            r->path, at + 8);
    }
    if (want[1] != (uint32_t)(r->out - r->member_out)) {
        return error_set(
            err,
            "%s: length mismatch in the gzip member ending at compressed offset %" PRIu64
            " (the data is corrupt)",
            r->path, at + 8);
    }
    r->state = ST_HEADER;
    return 0;
}

/* How much of `room` to inflate next: all of it, unless access points are being recorded and the
 * next one falls due sooner (inflate stops there, to look for a block boundary). */
static size_t
next_chunk(const struct gz_reader *r, int flush, size_t room)
{
    uint64_t until_due = r->spacing - (r->out - r->last_point_out);

    if (r->fn != NULL && flush == Z_NO_FLUSH && room > until_due) {
        return (size_t)until_due;
    }
    return room;
}

/* Makes sure some compressed input is buffered: the file may not end inside a member's data. */
static int
need_input(struct gz_reader *r, struct error *err)
{
    char words[160];

    if (r->zs.avail_in > 0) {
        return 0;
    }
    if (refill(r, err) != 0) {
        return -1;
    }
    if (r->zs.avail_in == 0) {
        return error_set(err,
                         "%s is truncated: it ends at compressed offset %" PRIu64 ", inside %s",
                         r->path, r->size, member_words(r, words, sizeof(words)));
    }
    return 0;
}

/* Takes account of n bytes just inflated to p. */
static void
took_output(struct gz_reader *r, const unsigned char *p, size_t n)
{
    if (n > 0) {
        r->crc = codec_crc32(r->crc, p, n);
        r->last_byte = p[n - 1];
        r->out += n;
    }
}

/* After an inflate with Z_BLOCK: records an access point if it stopped at a block boundary (not
 * after the last block) past the start of the member's data. */
static int
block_point(struct gz_reader *r, struct error *err)
{
    struct gz_point pt;
    uInt len = 0;

    if (!(r->zs.data_type & 128) || (r->zs.data_type & 64) || r->out <= r->member_out) {
        return 0;
    }
    memset(&pt, 0, sizeof(pt));
    pt.in = position(r);
    pt.bits = (uint8_t)(r->zs.data_type & 7);
    pt.crc = r->crc;
    if (inflateGetDictionary(&r->zs, r->window, &len) != Z_OK) {
        return error_set(err, "%s: zlib's inflateGetDictionary failed", r->path);
    }
    pt.window_len = len;
    return emit_point(r, &pt, r->window, err);
}

/* Inflates into out[0, room) until it is full or the member ends; *got is what was produced. */
static int
inflate_some(struct gz_reader *r, unsigned char *out, size_t room, size_t *got, struct error *err)
{
    size_t done = 0;
    char words[160];

    if (room > (1u << 30)) {
        room = 1u << 30;
    }
    while (done < room) {
        int flush = point_due(r) ? Z_BLOCK : Z_NO_FLUSH, rc;
        size_t before = next_chunk(r, flush, room - done), n;
        uint64_t at;

        if (need_input(r, err) != 0) {
            return -1;
        }
        r->zs.next_out = out + done;
        r->zs.avail_out = (uInt)before;
        at = position(r);
        rc = inflate(&r->zs, flush);
        if (rc == Z_BUF_ERROR && position(r) == at && r->zs.avail_out == before) {
            return error_set(err, "%s: inflate made no progress at compressed offset %" PRIu64,
                             r->path, at);
        }
        n = before - r->zs.avail_out;
        took_output(r, out + done, n);
        done += n;
        if (rc == Z_STREAM_END) {
            *got = done;
            return end_member(r, err);
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return error_set(
                err, "%s: corrupt deflate data in %s, near compressed offset %" PRIu64 " (%s)",
                r->path, member_words(r, words, sizeof(words)), at,
                r->zs.msg != NULL ? r->zs.msg : "?");
        }
        if (flush == Z_BLOCK && block_point(r, err) != 0) {
            return -1;
        }
    }
    *got = done;
    return 0;
}

int
gz_reader_new(int fd, const char *path, uint64_t size, struct gz_reader **out, struct error *err)
{
    struct gz_reader *r = calloc(1, sizeof(*r));

    if (r == NULL || (r->path = strdup(path)) == NULL || (r->in = malloc(IN_SIZE)) == NULL) {
        gz_reader_free(r);
        return error_set(err, "out of memory");
    }
    r->fd = fd;
    r->size = size;
    if (inflateInit2(&r->zs, -15) != Z_OK) {
        gz_reader_free(r);
        return error_set(err, "cannot start zlib's inflate");
    }
    r->zs_ready = 1;
    r->zs.next_in = r->in;
    r->state = ST_HEADER;
    *out = r;
    return 0;
}

int
gz_reader_new_sequential(int fd, const char *path, const unsigned char *head, size_t head_len,
                         struct gz_reader **out, struct error *err)
{
    struct gz_reader *r;

    if (head_len > sizeof(r->head)) {
        return error_set(err, "%s: too many bytes read ahead", path);
    }
    if (gz_reader_new(fd, path, SIZE_UNKNOWN, &r, err) != 0) {
        return -1;
    }
    r->sequential = 1;
    memcpy(r->head, head, head_len);
    r->head_len = head_len;
    *out = r;
    return 0;
}

void
gz_reader_free(struct gz_reader *r)
{
    if (r == NULL) {
        return;
    }
    if (r->zs_ready) {
        inflateEnd(&r->zs);
    }
    free(r->window);
    free(r->in);
    free(r->path);
    free(r);
}

void
gz_reader_track(struct gz_reader *r, uint64_t spacing, gz_point_fn fn, void *arg)
{
    if (fn == NULL) {
        r->fn = NULL;
        return;
    }
    if (r->window == NULL) {
        r->window = malloc(GZ_WINDOW);
    }
    r->fn = r->window != NULL ? fn : NULL;
    r->fn_arg = arg;
    r->spacing = spacing > 0 ? spacing : 1;
}

int
gz_reader_seek(struct gz_reader *r, const struct gz_point *pt, const unsigned char *window,
               struct error *err)
{
    unsigned c;
    int eof;

    if (inflateReset(&r->zs) != Z_OK) {
        return error_set(err, "%s: zlib's inflateReset failed", r->path);
    }
    r->in_off = pt->in - (pt->bits != 0);
    r->zs.next_in = r->in;
    r->zs.avail_in = 0;
    r->out = pt->out;
    r->member_out = pt->member_out;
    r->member_in = pt->in;
    r->member_known = pt->at_header;
    r->from_index = 1;
    r->crc = pt->crc;
    r->last_byte = pt->prev_byte;
    r->members = 0;
    if (pt->at_header) {
        r->state = ST_HEADER;
        return 0;
    }
    r->members = 1;
    r->state = ST_DATA;
    if (pt->bits != 0) {
        if (next_byte(r, &c, &eof, err) != 0 || eof) {
            return error_set(err,
                             "%s ends before compressed offset %" PRIu64 ", where its "
                             "index has an access point",
                             r->path, pt->in);
        }
        if (inflatePrime(&r->zs, pt->bits, (int)(c >> (8 - pt->bits))) != Z_OK) {
            return error_set(err, "%s: zlib's inflatePrime failed", r->path);
        }
    }
    if (pt->window_len > 0 && inflateSetDictionary(&r->zs, window, (uInt)pt->window_len) != Z_OK) {
        return error_set(err, "%s: zlib's inflateSetDictionary failed", r->path);
    }
    return 0;
}

ssize_t
gz_reader_read(struct gz_reader *r, unsigned char *out, size_t room, struct error *err)
{
    size_t got = 0;

    if (room == 0) {
        return error_set(err, "internal error: reading %s into no room", r->path);
    }
    while (got == 0) {
        switch (r->state) {
        case ST_END:
            return 0;
        case ST_HEADER:
            if (begin_member(r, err) != 0) {
                return -1;
            }
            break;
        case ST_DATA:
            if (inflate_some(r, out, room, &got, err) != 0) {
                return -1;
            }
            break;
        }
    }
    return (ssize_t)got;
}

int
gz_reader_verify(struct gz_reader *r, const struct gz_point *pt, struct error *err)
{
    unsigned char probe;
    size_t got = 0;

    if (r->out != pt->out) {
        return error_set(err, "internal error: verifying at %" PRIu64 ", not %" PRIu64, r->out,
                         pt->out);
    }
    if (pt->at_header) {
        /* The member before ends here: make the reader see its end and check its trailer. */
        if (r->state == ST_DATA && inflate_some(r, &probe, 1, &got, err) != 0) {
            return -1;
        }
        if (got == 0 && r->state != ST_DATA && position(r) == pt->in) {
            return 0;
        }
    } else if (r->member_out == pt->member_out && r->crc == pt->crc) {
        /* (The member may have ended right here, before an empty final block: then the reader
         * has already checked its trailer, and still holds its CRC-32.) */
        return 0;
    }
    return index_mismatch(r->path, pt, err);
}

int
gz_reader_data_start(struct gz_reader *r, const struct gz_point *pt, struct gz_point *data,
                     struct error *err)
{
    if (!pt->at_header || gz_reader_seek(r, pt, NULL, err) != 0 || begin_member(r, err) != 0 ||
        r->state != ST_DATA) {
        return -1;
    }
    *data = *pt;
    data->in = position(r);
    data->at_header = 0;
    return 0;
}

uint64_t
gz_reader_offset(const struct gz_reader *r)
{
    return r->out;
}

uint64_t
gz_reader_in_offset(const struct gz_reader *r)
{
    return position(r);
}

uint64_t
gz_reader_members(const struct gz_reader *r)
{
    return r->members;
}

/* ---- decoding a whole segment with libdeflate ------------------------------------------- */

/* Segments past this many bytes, decompressed or compressed, are left to the reader: the
 * decoder's buffers stay within twice this (memory stays bounded whatever the index says). */
#define SEGMENT_MAX (8u << 20)

struct gz_segment_decoder {
#ifdef TRANCHE_HAVE_LIBDEFLATE
    struct libdeflate_decompressor *d;
#endif
    unsigned char *in; /* the synthetic deflate stream */
    size_t in_cap;
    unsigned char *out; /* the window, then the segment */
    size_t out_cap;
};

int
gz_segment_decoder_new(struct gz_segment_decoder **out, struct error *err)
{
#ifdef TRANCHE_HAVE_LIBDEFLATE
    struct gz_segment_decoder *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->d = libdeflate_alloc_decompressor()) == NULL) {
        free(s);
        return error_set(err, "cannot set up libdeflate");
    }
    *out = s;
    return 0;
#else
    (void)err;
    *out = NULL;
    return 0;
#endif
}

void
gz_segment_decoder_free(struct gz_segment_decoder *s)
{
    if (s == NULL) {
        return;
    }
#ifdef TRANCHE_HAVE_LIBDEFLATE
    libdeflate_free_decompressor(s->d);
#endif
    free(s->in);
    free(s->out);
    free(s);
}

int
gz_segment_fits(const struct gz_segment_decoder *s, const struct gz_point *a,
                const struct gz_point *b)
{
    return s != NULL && !a->at_header && !b->at_header && a->member_out == b->member_out &&
           b->out > a->out && b->out - a->out <= SEGMENT_MAX && (a->bits == 0 || a->in > 0) &&
           b->in * 8 - b->bits > a->in * 8 - a->bits && b->in - a->in <= SEGMENT_MAX;
}

#ifdef TRANCHE_HAVE_LIBDEFLATE
/* Writing deflate bits, least significant first. */
struct bit_writer {
    unsigned char *p;
    uint64_t acc;
    unsigned n;
};

static void
put_bits(struct bit_writer *w, uint32_t value, unsigned n)
{
    w->acc |= (uint64_t)value << w->n;
    w->n += n;
    while (w->n >= 8) {
        *w->p++ = (unsigned char)w->acc;
        w->acc >>= 8;
        w->n -= 8;
    }
}

/* The fixed Huffman code of each literal byte, bit-reversed (Huffman codes go most significant
 * bit first), and its length: 8 bits for 0-143, 9 for 144-255. */
static uint32_t fixed_code[256];
static unsigned char fixed_len[256];

static void
init_fixed_codes(void)
{
    unsigned v, i;

    for (v = 0; v < 256; v++) {
        uint32_t code = v < 144 ? 0x30 + v : 0x190 + (v - 144), rev = 0;
        unsigned len = v < 144 ? 8 : 9;
        for (i = 0; i < len; i++) {
            rev |= ((code >> i) & 1u) << (len - 1 - i);
        }
        fixed_code[v] = rev;
        fixed_len[v] = (unsigned char)len;
    }
}

/* The deflate stream built in s->in to decode one segment. */
struct synthetic {
    uint64_t from, to;    /* the segment's bits in the file: [from, to) */
    uint64_t first, last; /* the file's bytes that hold them: [first, last) */
    unsigned lead;        /* from % 8: where in its first byte the segment begins */
    unsigned junk;        /* junk literals in the prefix's first block */
    unsigned char bits;   /* the prefix's last `lead` bits, which share the segment's first byte */
    size_t len;           /* bytes of s->in written so far */
};

/* The segment's bits are [from, to) of the file. Stored blocks inside it are aligned to the
 * file's bytes, so they are copied as they are, at the same bit position in their byte: what
 * goes in front must end `lead` bits into a byte. */
static void
plan_synthetic(struct synthetic *syn, const struct gz_point *a, const struct gz_point *b)
{
    memset(syn, 0, sizeof(*syn));
    syn->from = a->in * 8 - a->bits;
    syn->to = b->in * 8 - b->bits;
    syn->first = syn->from / 8;
    syn->last = (syn->to + 7) / 8;
    syn->lead = (unsigned)(syn->from % 8);
}

/* Writes the prefix into s->in: a fixed-Huffman block of `junk` literals, whose only purpose is
 * to make what follows end `lead` bits into a byte (9-bit literals: one more moves the end by one
 * bit), then the window as literals in a second block, for the segment's matches to reach back
 * into. Both are decoded and then skipped. */
static int
write_prefix(struct gz_segment_decoder *s, struct synthetic *syn, const unsigned char *window,
             uint32_t window_len, struct error *err)
{
    struct bit_writer w = {s->in, 0, 0};
    uint64_t window_bits = 0;
    unsigned i;

    for (i = 0; i < window_len; i++) {
        window_bits += fixed_len[window[i]];
    }
    syn->junk = (unsigned)((syn->lead + 8 * 8 - (20 + window_bits) % 8) % 8);
    put_bits(&w, 2, 3); /* BFINAL 0, BTYPE 01 (fixed Huffman) */
    for (i = 0; i < syn->junk; i++) {
        put_bits(&w, fixed_code[0x90], 9);
    }
    put_bits(&w, 0, 7); /* end of block */
    put_bits(&w, 2, 3);
    for (i = 0; i < window_len; i++) {
        put_bits(&w, fixed_code[window[i]], fixed_len[window[i]]);
    }
    put_bits(&w, 0, 7);
    if (w.n != syn->lead) {
        return error_set(err, "internal error: segment prefix ends at bit %u, not %u", w.n,
                         syn->lead);
    }
    syn->len = (size_t)(w.p - s->in);
    syn->bits = (unsigned char)(w.acc & ((1u << syn->lead) - 1));
    return 0;
}

/* Reads the segment's bytes after the prefix, as they are; the first shares its low bits with
 * the prefix. */
static int
read_segment(struct gz_segment_decoder *s, struct synthetic *syn, int fd, const char *path,
             struct error *err)
{
    size_t want = (size_t)(syn->last - syn->first);
    ssize_t n = io_pread_full(fd, s->in + syn->len, want, syn->first);

    if (n < 0) {
        return error_errno(err, "cannot read %s at compressed offset %" PRIu64, path, syn->first);
    }
    if ((size_t)n < want) {
        return error_set(err, "%s ends before compressed offset %" PRIu64 " (its index says more)",
                         path, syn->last);
    }
    s->in[syn->len] =
        (unsigned char)(syn->bits | (s->in[syn->len] & (unsigned char)(0xff << syn->lead)));
    return 0;
}

/* Then, where the segment ends, an empty final block: BFINAL 1, BTYPE 01, end of block. */
static void
append_final_block(struct gz_segment_decoder *s, struct synthetic *syn)
{
    uint64_t end = (uint64_t)syn->len * 8 + syn->lead + (syn->to - syn->from);

    syn->len = (size_t)((end + 10 + 7) / 8);
    s->in[end / 8] &= (unsigned char)((1u << (end % 8)) - 1);
    memset(s->in + end / 8 + 1, 0, syn->len - (size_t)(end / 8) - 1);
    s->in[end / 8] |= (unsigned char)(1u << (end % 8));
    s->in[(end + 1) / 8] |= (unsigned char)(1u << ((end + 1) % 8));
}
#endif

ssize_t
gz_segment_decode(struct gz_segment_decoder *s, int fd, const char *path, const struct gz_point *a,
                  const unsigned char *window, const struct gz_point *b, unsigned char **data,
                  struct error *err)
{
#ifdef TRANCHE_HAVE_LIBDEFLATE
    struct synthetic syn;
    size_t seg = (size_t)(b->out - a->out), prefix_max = 8 + 2 * (size_t)a->window_len + 16;
    enum libdeflate_result rc;

    plan_synthetic(&syn, a, b);
    if (fixed_len[0] == 0) {
        init_fixed_codes();
    }
    if (GROW(s->in, s->in_cap, prefix_max + (size_t)(syn.last - syn.first) + 8) != 0 ||
        GROW(s->out, s->out_cap, 8 + a->window_len + seg) != 0) {
        return error_set(err, "out of memory decoding %s", path);
    }
    if (write_prefix(s, &syn, window, a->window_len, err) != 0 ||
        read_segment(s, &syn, fd, path, err) != 0) {
        return -1;
    }
    append_final_block(s, &syn);
    rc = libdeflate_deflate_decompress(s->d, s->in, syn.len, s->out, syn.junk + a->window_len + seg,
                                       NULL);
    if (rc != LIBDEFLATE_SUCCESS) {
        return error_set(err,
                         "%s: corrupt deflate data between compressed offsets %" PRIu64
                         " and %" PRIu64 " (libdeflate: %s)",
                         path, a->in, b->in,
                         rc == LIBDEFLATE_BAD_DATA ? "bad data" : "wrong length");
    }
    *data = s->out + syn.junk + a->window_len;
    if (codec_crc32(a->crc, *data, seg) != b->crc) {
        return index_mismatch(path, b, err);
    }
    return (ssize_t)seg;
#else
    (void)s, (void)fd, (void)a, (void)window, (void)b, (void)data;
    return error_set(err, "internal error: %s: no libdeflate in this build", path);
#endif
}
