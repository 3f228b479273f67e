/* core/bgzf.c: BGZF blocks: an 18-byte gzip header with the BC extra field, raw deflate data,
 * then CRC-32 and the input size. */
#include "bgzf.h"
#include "io.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
    crc = libdeflate_crc32(0, in, len);
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
    crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), in, (uInt)len);
#endif
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

uint32_t
bgzf_crc32(uint32_t crc, const void *data, size_t len)
{
    if (len == 0) {
        return crc; /* (both libraries return their initial value 0 for a NULL buffer) */
    }
#ifdef TRANCHE_HAVE_LIBDEFLATE
    return libdeflate_crc32(crc, data, len);
#else
    const unsigned char *p = data;
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
#endif
}

const char *
bgzf_codec(void)
{
    static char name[64];

#ifdef TRANCHE_HAVE_LIBDEFLATE
    snprintf(name, sizeof(name), "libdeflate %s", LIBDEFLATE_VERSION_STRING);
#else
    snprintf(name, sizeof(name), "zlib %s", zlibVersion());
#endif
    return name;
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

/* The BC subfield's BSIZE in a header's extra field, or -1 when there is none. */
static long
find_bsize(const unsigned char *extra, size_t xlen)
{
    size_t i = 0;

    while (i + 4 <= xlen) {
        size_t slen = (size_t)io_get_le(extra + i + 2, 2);
        if (extra[i] == 'B' && extra[i + 1] == 'C' && slen == 2 && i + 6 <= xlen) {
            return (long)io_get_le(extra + i + 4, 2);
        }
        i += 4 + slen;
    }
    return -1;
}

static int
push_block(struct bgzf_index *idx, size_t *cap, const struct bgzf_block *b)
{
    if (idx->n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 1024;
        struct bgzf_block *grown = realloc(idx->blocks, grown_cap * sizeof(*grown));
        if (grown == NULL) {
            return -1;
        }
        idx->blocks = grown;
        *cap = grown_cap;
    }
    idx->blocks[idx->n++] = *b;
    return 0;
}

int
bgzf_index_build(int fd, const char *path, uint64_t size, struct bgzf_index *out, struct error *err)
{
    struct bgzf_index idx = {NULL, 0, 0};
    struct bgzf_decoder *empty = NULL;
    unsigned char head[12 + 65535 + 8];
    size_t cap = 0;
    uint64_t off = 0;
    int rc = -1;

    while (off < size) {
        struct bgzf_block b;
        size_t xlen;
        long bsize;
        int r;

        memset(head, 0, 12);
        r = io_pread_all(fd, head, size - off < 12 ? (size_t)(size - off) : 12, off);
        if (r < 0) {
            error_errno(err, "%s: cannot read at compressed offset %llu", path,
                        (unsigned long long)off);
            goto out;
        }
        if (head[0] != 0x1f || head[1] != 0x8b) {
            error_set(err, "%s: %s at compressed offset %llu", path,
                      off == 0 ? "not a gzip file" : "garbage after the last member, or corrupt",
                      (unsigned long long)off);
            goto out;
        }
        if (size - off < 18) {
            error_set(err, "%s: truncated gzip member at compressed offset %llu", path,
                      (unsigned long long)off);
            goto out;
        }
        if (head[2] != 8 || (head[3] & 0xe0) != 0) {
            error_set(err, "%s: bad gzip header at compressed offset %llu", path,
                      (unsigned long long)off);
            goto out;
        }
        if (off > 0 && (head[3] & 0x1a) != 0) {
            /* FHCRC, FNAME or FCOMMENT: valid gzip, but no BGZF writer sets them */
            error_set(err,
                      "%s: the gzip member at compressed offset %llu has a file name, comment "
                      "or header CRC, which BGZF input does not support yet",
                      path, (unsigned long long)off);
            rc = BGZF_UNSUPPORTED;
            goto out;
        }
        xlen = (head[3] & 4) ? (uint32_t)io_get_le(head + 10, 2) : 0;
        if (off + 12 + xlen > size) {
            error_set(err, "%s: truncated gzip header at compressed offset %llu", path,
                      (unsigned long long)off);
            goto out;
        }
        if (xlen > 0 && io_pread_all(fd, head + 12, xlen, off + 12) != 0) {
            error_errno(err, "%s: cannot read at compressed offset %llu", path,
                        (unsigned long long)off);
            goto out;
        }
        bsize = xlen > 0 && (head[3] & 0x1a) == 0 ? find_bsize(head + 12, xlen) : -1;
        if (bsize < 0) {
            if (off == 0) {
                rc = BGZF_NOT_BGZF;
            } else {
                error_set(err,
                          "%s: the gzip member at compressed offset %llu is not a BGZF block "
                          "(no BC field), though the file starts as BGZF; mixed BGZF and plain "
                          "gzip input is not supported yet",
                          path, (unsigned long long)off);
                rc = BGZF_UNSUPPORTED;
            }
            goto out;
        }
        b.offset = off;
        b.size = (uint32_t)bsize + 1;
        if (b.size < 12 + xlen + 8 || off + b.size > size) {
            error_set(err, "%s: truncated or corrupt BGZF block at compressed offset %llu", path,
                      (unsigned long long)off);
            goto out;
        }
        if (io_pread_all(fd, head, 4, off + b.size - 4) != 0) {
            error_errno(err, "%s: cannot read at compressed offset %llu", path,
                        (unsigned long long)(off + b.size - 4));
            goto out;
        }
        b.isize = (uint32_t)io_get_le(head, 4);
        if (b.isize > BGZF_MAX_BLOCK) {
            error_set(err,
                      "%s: corrupt BGZF block at compressed offset %llu (it claims %u "
                      "bytes of data, more than a block holds)",
                      path, (unsigned long long)off, b.isize);
            goto out;
        }
        b.ustart = idx.usize;
        /* Empty blocks (the end-of-file block) hold no records, so no worker reads them: check
         * them here, or a block that lies about being empty would pass unnoticed. */
        if (b.isize == 0) {
            if (empty == NULL && bgzf_decoder_new(&empty, err) != 0) {
                goto out;
            }
            if (bgzf_decode_block(empty, fd, path, &b, NULL, err) != 0) {
                goto out;
            }
        }
        if (push_block(&idx, &cap, &b) != 0) {
            error_set(err, "out of memory indexing %s", path);
            goto out;
        }
        idx.usize += b.isize;
        off += b.size;
    }
    *out = idx;
    idx.blocks = NULL;
    rc = 0;
out:
    free(idx.blocks);
    bgzf_decoder_free(empty);
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

int
bgzf_decode_block(struct bgzf_decoder *d, int fd, const char *path, const struct bgzf_block *b,
                  unsigned char *out, struct error *err)
{
    size_t hdr, clen;
    uint32_t crc;
    int ok;

    if (io_pread_all(fd, d->in, b->size, b->offset) != 0) {
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
#ifdef TRANCHE_HAVE_LIBDEFLATE
    {
        size_t used = 0;
        unsigned char none;
        /* _ex: the deflate data must use the whole block, as zlib's check below requires */
        ok = libdeflate_deflate_decompress_ex(d->decompressor, d->in + hdr, clen,
                                              out != NULL ? out : &none, b->isize, &used,
                                              NULL) == LIBDEFLATE_SUCCESS &&
             used == clen;
    }
    crc = ok ? libdeflate_crc32(0, out, b->isize) : 0;
#else
    ok = inflateReset(&d->stream) == Z_OK;
    if (ok) {
        d->stream.next_in = d->in + hdr;
        d->stream.avail_in = (uInt)clen;
        d->stream.next_out = out != NULL ? out : (unsigned char *)d->in; /* isize 0: unused */
        d->stream.avail_out = b->isize;
        ok = inflate(&d->stream, Z_FINISH) == Z_STREAM_END && d->stream.avail_out == 0 &&
             d->stream.avail_in == 0;
    }
    crc = ok ? (uint32_t)crc32(crc32(0, Z_NULL, 0), out, b->isize) : 0;
#endif
    if (!ok) {
        return error_set(err,
                         "%s: corrupt deflate data in the BGZF block at compressed offset "
                         "%llu",
                         path, (unsigned long long)b->offset);
    }
    if (crc != (uint32_t)io_get_le(d->in + b->size - 8, 4)) {
        return error_set(err, "%s: CRC mismatch in the BGZF block at compressed offset %llu", path,
                         (unsigned long long)b->offset);
    }
    return 0;
}
