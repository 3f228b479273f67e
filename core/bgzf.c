/* core/bgzf.c: BGZF blocks: an 18-byte gzip header with the BC extra field, raw deflate data,
 * then CRC-32 and the input size. */
#include "bgzf.h"
#include "codec.h"
#include "grow.h"
#include "io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifdef TRANCHE_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#define HEADER_SIZE 18
#define FOOTER_SIZE 8

const unsigned char bgzf_eof_block[BGZF_EOF_SIZE] = {
    0x1f, 0x8b, 0x08, 0x04, 0,    0, 0, 0, 0, 0xff, 0x06, 0, 'B', 'C',
    0x02, 0,    0x1b, 0,    0x03, 0, 0, 0, 0, 0,    0,    0, 0,   0,
};

struct bgzf_encoder {
#ifdef TRANCHE_HAVE_LIBDEFLATE
    struct libdeflate_compressor *compressor;
#else
    z_stream stream;
#endif
};

int
bgzf_encoder_new(int level, struct bgzf_encoder **out, struct error *err)
{
    struct bgzf_encoder *e = calloc(1, sizeof(*e));

    if (e == NULL) {
        return error_set(err, "out of memory");
    }
#ifdef TRANCHE_HAVE_LIBDEFLATE
    e->compressor = libdeflate_alloc_compressor(level);
    if (e->compressor == NULL) {
        free(e);
        return error_set(err, "cannot set up libdeflate at level %d", level);
    }
#else
    /* Raw deflate (negative window bits): the gzip wrapper is written here, with the BC field. */
    if (deflateInit2(&e->stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(e);
        return error_set(err, "cannot set up zlib at level %d", level);
    }
#endif
    *out = e;
    return 0;
}

void
bgzf_encoder_free(struct bgzf_encoder *e)
{
    if (e == NULL) {
        return;
    }
#ifdef TRANCHE_HAVE_LIBDEFLATE
    libdeflate_free_compressor(e->compressor);
#else
    deflateEnd(&e->stream);
#endif
    free(e);
}

/* Deflate's stored form (one final block of type 0): for data that would not shrink. */
static size_t
store(const void *in, size_t len, unsigned char *out)
{
    out[0] = 0x01;
    io_put_le(out + 1, (uint32_t)len, 2);
    io_put_le(out + 3, (uint32_t)(~len & 0xffff), 2);
    memcpy(out + 5, in, len);
    return len + 5;
}

size_t
bgzf_encode_block(struct bgzf_encoder *e, const void *in, size_t len, unsigned char *out,
                  struct error *err)
{
    const size_t room = BGZF_MAX_BLOCK - HEADER_SIZE - FOOTER_SIZE;
    unsigned char *data = out + HEADER_SIZE;
    size_t clen;
    uint32_t crc;

    if (len > BGZF_MAX_INPUT) {
        error_set(err, "internal error: %zu bytes for one BGZF block", len);
        return 0;
    }
#ifdef TRANCHE_HAVE_LIBDEFLATE
    clen = libdeflate_deflate_compress(e->compressor, in, len, data, room);
#else
    if (deflateReset(&e->stream) != Z_OK) {
        error_set(err, "zlib: %s", e->stream.msg != NULL ? e->stream.msg : "deflateReset failed");
        return 0;
    }
    e->stream.next_in = (Bytef *)(uintptr_t)in;
    e->stream.avail_in = (uInt)len;
    e->stream.next_out = data;
    e->stream.avail_out = (uInt)room;
    clen = deflate(&e->stream, Z_FINISH) == Z_STREAM_END ? room - e->stream.avail_out : 0;
#endif
    crc = codec_crc32(0, in, len);
    if (clen == 0) {
        clen = store(in, len, data); /* fits: BGZF_MAX_INPUT + 5 < room */
    }
    out[0] = 0x1f;
    out[1] = 0x8b;
    out[2] = 8;               /* deflate */
    out[3] = 4;               /* FEXTRA */
    io_put_le(out + 4, 0, 4); /* no modification time */
    out[8] = 0;
    out[9] = 0xff; /* unknown OS, as bgzip writes */
    io_put_le(out + 10, 6, 2);
    out[12] = 'B';
    out[13] = 'C';
    io_put_le(out + 14, 2, 2);
    io_put_le(out + 16, (uint32_t)(HEADER_SIZE + clen + FOOTER_SIZE - 1), 2);
    io_put_le(data + clen, crc, 4);
    io_put_le(data + clen + 4, (uint32_t)len, 4);
    return HEADER_SIZE + clen + FOOTER_SIZE;
}

/* ---- reading ---------------------------------------------------------------------------- */

struct bgzf_decoder {
#ifdef TRANCHE_HAVE_LIBDEFLATE
    struct libdeflate_decompressor *decompressor;
#else
    z_stream stream;
#endif
    unsigned char in[BGZF_MAX_BLOCK];
};

#define FLG_FEXTRA 0x04
#define FLG_RESERVED 0xe0
#define FLG_NOT_BGZF 0x1a /* FHCRC, FNAME, FCOMMENT: valid gzip, but no BGZF writer sets them */

/* A walk over a file's members by their headers, as bgzf_index_build does it. */
struct walk {
    int fd;
    const char *path;
    uint64_t size;
    struct bgzf_index idx;          /* the blocks so far */
    size_t cap;                     /* of idx.blocks */
    struct bgzf_decoder *empty;     /* checks the empty blocks; made at the first one */
    unsigned char head[12 + 65535]; /* a member's fixed header, then its extra field */
};

/* What the header of the member at `off` says. */
struct member {
    uint64_t off;
    unsigned flags;
    size_t xlen;   /* the extra field's length */
    int is_block;  /* a BGZF block: a BC field, and no name, comment or header CRC */
    uint32_t size; /* the block's size (BSIZE + 1), when is_block */
};

/* Whether a header's extra field has the BC subfield; *bsize is then its BSIZE. */
static int
find_bsize(const unsigned char *extra, size_t xlen, uint32_t *bsize)
{
    size_t i = 0;

    while (i + 4 <= xlen) {
        size_t slen = (size_t)io_get_le(extra + i + 2, 2);
        if (extra[i] == 'B' && extra[i + 1] == 'C' && slen == 2 && i + 6 <= xlen) {
            *bsize = (uint32_t)io_get_le(extra + i + 4, 2);
            return 1;
        }
        i += 4 + slen;
    }
    return 0;
}

/* Reads the fixed 12 bytes of the header at m->off into w->head (zeros past the end of the file)
 * and checks them: the magic bytes, room for a whole header, deflate, no reserved flags. */
static int
read_fixed_header(struct walk *w, struct member *m, struct error *err)
{
    uint64_t off = m->off;
    size_t want = w->size - off < 12 ? (size_t)(w->size - off) : 12;

    memset(w->head, 0, 12);
    if (io_pread_full(w->fd, w->head, want, off) < 0) {
        return error_errno(err, "%s: cannot read at compressed offset %llu", w->path,
                           (unsigned long long)off);
    }
    if (w->head[0] != 0x1f || w->head[1] != 0x8b) {
        return error_set(err, "%s: %s at compressed offset %llu", w->path,
                         off == 0 ? "not a gzip file" : "garbage after the last member, or corrupt",
                         (unsigned long long)off);
    }
    if (w->size - off < 18) {
        return error_set(err, "%s: truncated gzip member at compressed offset %llu", w->path,
                         (unsigned long long)off);
    }
    if (w->head[2] != 8 || (w->head[3] & FLG_RESERVED) != 0) {
        return error_set(err, "%s: bad gzip header at compressed offset %llu", w->path,
                         (unsigned long long)off);
    }
    m->flags = w->head[3];
    return 0;
}

/* Reads the extra field of the header at m->off, and finds whether the member is a BGZF block:
 * one with the BC field and none of FLG_NOT_BGZF. After the first member those flags settle it
 * before the extra field is read; the first member's header is checked whole either way. */
static int
read_extra_field(struct walk *w, struct member *m, struct error *err)
{
    uint32_t bsize = 0;
    ssize_t n;

    m->is_block = 0;
    if (m->off > 0 && (m->flags & FLG_NOT_BGZF) != 0) {
        return 0;
    }
    m->xlen = (m->flags & FLG_FEXTRA) ? (size_t)io_get_le(w->head + 10, 2) : 0;
    if (m->off + 12 + m->xlen > w->size) {
        return error_set(err, "%s: truncated gzip header at compressed offset %llu", w->path,
                         (unsigned long long)m->off);
    }
    n = m->xlen > 0 ? io_pread_full(w->fd, w->head + 12, m->xlen, m->off + 12) : 0;
    if (n < 0 || (size_t)n < m->xlen) {
        return error_errno(err, "%s: cannot read at compressed offset %llu", w->path,
                           (unsigned long long)m->off);
    }
    if (m->xlen > 0 && (m->flags & FLG_NOT_BGZF) == 0 &&
        find_bsize(w->head + 12, m->xlen, &bsize)) {
        m->is_block = 1;
        m->size = bsize + 1;
    }
    return 0;
}

/* Fills b for the block m: its place in the file, and its data size read from its trailer. */
static int
read_block_trailer(struct walk *w, const struct member *m, struct bgzf_block *b, struct error *err)
{
    unsigned char isize[4];
    ssize_t n;

    b->offset = m->off;
    b->size = m->size;
    if (b->size < 12 + m->xlen + 8 || m->off + b->size > w->size) {
        return error_set(err, "%s: truncated or corrupt BGZF block at compressed offset %llu",
                         w->path, (unsigned long long)m->off);
    }
    n = io_pread_full(w->fd, isize, 4, m->off + b->size - 4);
    if (n != 4) {
        return error_errno(err, "%s: cannot read at compressed offset %llu", w->path,
                           (unsigned long long)(m->off + b->size - 4));
    }
    b->isize = (uint32_t)io_get_le(isize, 4);
    if (b->isize > BGZF_MAX_BLOCK) {
        return error_set(err,
                         "%s: corrupt BGZF block at compressed offset %llu (it claims %u "
                         "bytes of data, more than a block holds)",
                         w->path, (unsigned long long)m->off, b->isize);
    }
    b->ustart = w->idx.usize;
    return 0;
}

/* Empty blocks (the end-of-file block) hold no records, so no worker reads them: they are
 * decoded and checked here, or a block that lies about being empty would pass unnoticed. */
static int
check_empty_block(struct walk *w, const struct bgzf_block *b, struct error *err)
{
    if (w->empty == NULL && bgzf_decoder_new(&w->empty, err) != 0) {
        return -1;
    }
    return bgzf_decode_block(w->empty, w->fd, w->path, b, NULL, err);
}

static int
push_block(struct walk *w, const struct bgzf_block *b, struct error *err)
{
    if (GROW(w->idx.blocks, w->cap, w->idx.n + 1) != 0) {
        return error_set(err, "out of memory indexing %s", w->path);
    }
    w->idx.blocks[w->idx.n++] = *b;
    w->idx.usize += b->isize;
    return 0;
}

/* Indexes the member at off: *is_block = 0 when it is not a BGZF block (nothing is added), else
 * the block is checked and added, and *next is where the following member begins. */
static int
index_member(struct walk *w, uint64_t off, int *is_block, uint64_t *next, struct error *err)
{
    struct member m;
    struct bgzf_block b;

    memset(&m, 0, sizeof(m));
    m.off = off;
    if (read_fixed_header(w, &m, err) != 0 || read_extra_field(w, &m, err) != 0) {
        return -1;
    }
    *is_block = m.is_block;
    if (!m.is_block) {
        return 0;
    }
    if (read_block_trailer(w, &m, &b, err) != 0) {
        return -1;
    }
    if (b.isize == 0 && check_empty_block(w, &b, err) != 0) {
        return -1;
    }
    if (push_block(w, &b, err) != 0) {
        return -1;
    }
    *next = off + b.size;
    return 0;
}

int
bgzf_index_build(int fd, const char *path, uint64_t size, struct bgzf_index *idx, int *is_bgzf,
                 struct error *err)
{
    struct walk w = {.fd = fd, .path = path, .size = size};
    uint64_t off = 0;
    int is_block = 1, rc = -1;

    while (off < size && is_block) {
        if (index_member(&w, off, &is_block, &off, err) != 0) {
            goto out;
        }
    }
    memset(idx, 0, sizeof(*idx));
    if (is_block) {
        *idx = w.idx;
        w.idx.blocks = NULL;
    }
    *is_bgzf = is_block;
    rc = 0;
out:
    free(w.idx.blocks);
    bgzf_decoder_free(w.empty);
    return rc;
}

void
bgzf_index_release(struct bgzf_index *idx)
{
    free(idx->blocks);
    idx->blocks = NULL;
    idx->n = 0;
    idx->usize = 0;
}

int
bgzf_decoder_new(struct bgzf_decoder **out, struct error *err)
{
    struct bgzf_decoder *d = calloc(1, sizeof(*d));

    if (d == NULL) {
        return error_set(err, "out of memory");
    }
#ifdef TRANCHE_HAVE_LIBDEFLATE
    d->decompressor = libdeflate_alloc_decompressor();
    if (d->decompressor == NULL) {
        free(d);
        return error_set(err, "cannot set up libdeflate");
    }
#else
    if (inflateInit2(&d->stream, -15) != Z_OK) {
        free(d);
        return error_set(err, "cannot set up zlib");
    }
#endif
    *out = d;
    return 0;
}

void
bgzf_decoder_free(struct bgzf_decoder *d)
{
    if (d == NULL) {
        return;
    }
#ifdef TRANCHE_HAVE_LIBDEFLATE
    libdeflate_free_decompressor(d->decompressor);
#else
    inflateEnd(&d->stream);
#endif
    free(d);
}

/* Whether the deflate data in[0, clen) decodes to exactly isize bytes into out (NULL when isize
 * is 0), using all of it. */
static int
inflate_exactly(struct bgzf_decoder *d, const unsigned char *in, size_t clen, unsigned char *out,
                uint32_t isize)
{
#ifdef TRANCHE_HAVE_LIBDEFLATE
    size_t used = 0;
    unsigned char none;

    /* _ex: the deflate data must use the whole block, as the zlib branch checks too */
    return libdeflate_deflate_decompress_ex(d->decompressor, in, clen, out != NULL ? out : &none,
                                            isize, &used, NULL) == LIBDEFLATE_SUCCESS &&
           used == clen;
#else
    if (inflateReset(&d->stream) != Z_OK) {
        return 0;
    }
    d->stream.next_in = (Bytef *)(uintptr_t)in;
    d->stream.avail_in = (uInt)clen;
    d->stream.next_out = out != NULL ? out : d->in; /* isize 0: unused */
    d->stream.avail_out = isize;
    return inflate(&d->stream, Z_FINISH) == Z_STREAM_END && d->stream.avail_out == 0 &&
           d->stream.avail_in == 0;
#endif
}

int
bgzf_decode_block(struct bgzf_decoder *d, int fd, const char *path, const struct bgzf_block *b,
                  unsigned char *out, struct error *err)
{
    size_t hdr, clen;

    if (io_pread_full(fd, d->in, b->size, b->offset) != (ssize_t)b->size) {
        return error_set(err, "%s: cannot read the BGZF block at compressed offset %llu", path,
                         (unsigned long long)b->offset);
    }
    hdr = 12 + (uint32_t)io_get_le(d->in + 10, 2);
    if (d->in[0] != 0x1f || d->in[1] != 0x8b || hdr + 8 > b->size) {
        return error_set(err,
                         "%s: the BGZF block at compressed offset %llu is not where the index "
                         "found it (did the file change during the job?)",
                         path, (unsigned long long)b->offset);
    }
    clen = b->size - hdr - 8;
    if (!inflate_exactly(d, d->in + hdr, clen, out, b->isize)) {
        return error_set(err,
                         "%s: corrupt deflate data in the BGZF block at compressed offset "
                         "%llu",
                         path, (unsigned long long)b->offset);
    }
    if (codec_crc32(0, out, b->isize) != (uint32_t)io_get_le(d->in + b->size - 8, 4)) {
        return error_set(err, "%s: CRC mismatch in the BGZF block at compressed offset %llu", path,
                         (unsigned long long)b->offset);
    }
    return 0;
}
