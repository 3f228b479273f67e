/* plugins/common/bytebuf.h: a growable byte buffer for plugins that build a record before they
 * emit it (cut with a longer output delimiter, jsonl). Header-only: each plugin links alone. */
#ifndef TRANCHE_PLUGINS_BYTEBUF_H
#define TRANCHE_PLUGINS_BYTEBUF_H

#include <stdlib.h>
#include <string.h>

/* Safe on a zeroed struct; `len` is reset by the user between records, the memory is kept. */
struct bytebuf {
    char *data;
    size_t len;
    size_t cap;
};

/* Makes room for `more` bytes past len; returns 0, or -1 when out of memory (nothing changed). */
static inline int
bytebuf_reserve(struct bytebuf *b, size_t more)
{
    size_t cap = b->cap > 0 ? b->cap : 256;
    char *grown;

    if (more <= b->cap - b->len) {
        return 0;
    }
    if (more > (size_t)-1 / 2 - b->len) {
        return -1;
    }
    while (cap - b->len < more) {
        cap *= 2;
    }
    grown = realloc(b->data, cap);
    if (grown == NULL) {
        return -1;
    }
    b->data = grown;
    b->cap = cap;
    return 0;
}

/* Appends n bytes; returns 0, or -1 when out of memory. */
static inline int
bytebuf_append(struct bytebuf *b, const void *p, size_t n)
{
    if (bytebuf_reserve(b, n) != 0) {
        return -1;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    return 0;
}

static inline void
bytebuf_release(struct bytebuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

#endif
