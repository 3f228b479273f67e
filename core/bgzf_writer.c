/* core/bgzf_writer.c: plain or BGZF output of a partition, handed on in large writes. */
#include "bgzf_writer.h"

#include <stdlib.h>
#include <string.h>

#include "bgzf.h"
#include "grow.h"

/* Compressed blocks are gathered up to this much before a write. */
#define STAGE_SIZE (1u << 20)

int
bgzf_writer_init(struct bgzf_writer *w, int gzip_level, struct error *err)
{
    memset(w, 0, sizeof(*w));
    if (gzip_level == 0) {
        return 0;
    }
    w->buf = malloc(STAGE_SIZE + BGZF_MAX_BLOCK);
    if (w->buf == NULL) {
        return error_set(err, "out of memory");
    }
    if (bgzf_encoder_new(gzip_level, &w->enc, err) != 0) {
        free(w->buf);
        w->buf = NULL;
        return -1;
    }
    return 0;
}

void
bgzf_writer_release(struct bgzf_writer *w)
{
    bgzf_encoder_free(w->enc);
    free(w->buf);
    free(w->hold);
    memset(w, 0, sizeof(*w));
}

int
bgzf_writer_put(struct bgzf_writer *w, bgzf_put_fn put, void *arg, const char *data, size_t len,
                int last, size_t *taken, struct error *err)
{
    size_t off = 0;

    *taken = 0;
    if (w->enc == NULL) {
        *taken = len;
        return put(arg, data, len, err);
    }
    while (len - off >= BGZF_MAX_INPUT || (last && off < len)) {
        size_t n = len - off < BGZF_MAX_INPUT ? len - off : BGZF_MAX_INPUT, block;
        if (w->len > STAGE_SIZE) {
            if (put(arg, w->buf, w->len, err) != 0) {
                return -1;
            }
            w->len = 0;
        }
        block = bgzf_encode_block(w->enc, data + off, n, w->buf + w->len, err);
        if (block == 0) {
            return -1;
        }
        w->len += block;
        off += n;
    }
    if (w->len > 0 && put(arg, w->buf, w->len, err) != 0) {
        return -1;
    }
    w->len = 0;
    *taken = off;
    return 0;
}

int
bgzf_writer_hold(void *arg, const void *data, size_t len, struct error *err)
{
    struct bgzf_writer *w = arg;

    if (w->hold_cap < STAGE_SIZE && GROW(w->hold, w->hold_cap, STAGE_SIZE) != 0) {
        return error_set(err, "out of memory holding compressed output");
    }
    if (GROW(w->hold, w->hold_cap, w->hold_len + len) != 0) {
        return error_set(err, "out of memory holding %zu bytes of compressed output",
                         w->hold_len + len);
    }
    memcpy(w->hold + w->hold_len, data, len);
    w->hold_len += len;
    return 0;
}
