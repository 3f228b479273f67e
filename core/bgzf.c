/* core/bgzf.c: BGZF blocks: an 18-byte gzip header with the BC extra field, raw deflate data,
 * then CRC-32 and the input size. */
#include "bgzf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifdef TRANCHE_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#define HEADER_SIZE 18
#define FOOTER_SIZE 8

const unsigned char bgzf_eof_block[BGZF_EOF_SIZE] = {
    0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 'B', 'C', 0x02, 0,
    0x1b, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

struct bgzf_encoder {
#ifdef TRANCHE_HAVE_LIBDEFLATE
    struct libdeflate_compressor *compressor;
#else
    z_stream stream;
#endif
};

static void
put_le16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
}

static void
put_le32(unsigned char *p, uint32_t v)
{
    put_le16(p, v & 0xffff);
    put_le16(p + 2, v >> 16);
}

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
    put_le16(out + 1, (uint32_t)len);
    put_le16(out + 3, (uint32_t)(~len & 0xffff));
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
    out[2] = 8;    /* deflate */
    out[3] = 4;    /* FEXTRA */
    put_le32(out + 4, 0); /* no modification time */
    out[8] = 0;
    out[9] = 0xff; /* unknown OS, as bgzip writes */
    put_le16(out + 10, 6);
    out[12] = 'B';
    out[13] = 'C';
    put_le16(out + 14, 2);
    put_le16(out + 16, (uint32_t)(HEADER_SIZE + clen + FOOTER_SIZE - 1));
    put_le32(data + clen, crc);
    put_le32(data + clen + 4, (uint32_t)len);
    return HEADER_SIZE + clen + FOOTER_SIZE;
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
