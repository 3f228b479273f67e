/* plugins/common/csvfield.c: CSV row splitting and minimal quoting (see csvfield.h). Compiled
 * into each plugin that uses it; it exports nothing. */
#define _GNU_SOURCE /* memmem */
#include "csvfield.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int
push_field(struct csv_fields *f, char *p, size_t n)
{
    if (f->n == f->cap) {
        size_t cap = f->cap > 0 ? f->cap * 2 : 32;
        struct csv_span *grown = realloc(f->v, cap * sizeof(*grown));

        if (grown == NULL) {
            return -1;
        }
        f->v = grown;
        f->cap = cap;
    }
    f->v[f->n++] = (struct csv_span){p, n};
    return 0;
}

/*
 * Unescapes the quoted field that starts at *r (just past its opening quote) into w, up to the
 * separator that ends it or the end of the row; *r is left at that separator (or at end).
 * Returns the end of the value written. w never passes *r: each quote dropped widens the gap.
 */
static char *
unquote(char *w, char **r, const char *end, char separator, char quote)
{
    char *p = *r;

    for (;;) {
        char *q = memchr(p, quote, (size_t)(end - p));
        size_t run = (size_t)((q != NULL ? q : end) - p);

        memmove(w, p, run);
        w += run;
        if (q == NULL) {
            p = (char *)end; /* the row ends inside the quotes: that ends the field */
            break;
        }
        p = q + 1;
        if (p < end && *p == quote) {
            *w++ = quote; /* "" is one literal quote */
            p++;
            continue;
        }
        /* the closing quote: the rest up to the separator is appended as it is (strict=False) */
        q = memchr(p, separator, (size_t)(end - p));
        run = (size_t)((q != NULL ? q : end) - p);
        memmove(w, p, run);
        w += run;
        p += run;
        break;
    }
    *r = p;
    return w;
}

int
csv_split(struct csv_fields *f, char separator, char quote, char *data, size_t len, size_t limit)
{
    char *end = data + len;
    char *r = data;

    f->n = 0;
    if (len == 0) {
        return 0;
    }
    while (f->n < limit) {
        char *start = r;
        char *stop;

        if (r < end && *r == quote) {
            r++;
            stop = unquote(start, &r, end, separator, quote);
        } else {
            char *sep = memchr(r, separator, (size_t)(end - r));

            r = sep != NULL ? sep : end;
            stop = r;
        }
        if (push_field(f, start, (size_t)(stop - start)) != 0) {
            return -1;
        }
        if (r == end) {
            break;
        }
        r++; /* past the separator: a row that ends with one has an empty last field */
    }
    return 0;
}

void
csv_fields_release(struct csv_fields *f)
{
    free(f->v);
    memset(f, 0, sizeof(*f));
}

int
csv_needs_quotes(const char *p, size_t n, char quote, const char *sep, size_t sep_len)
{
    if (n == 0) {
        return 0; /* (p may be NULL) */
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == quote || p[i] == '\n' || p[i] == '\r') {
            return 1;
        }
    }
    if (sep_len == 1) {
        return memchr(p, sep[0], n) != NULL;
    }
    return sep_len > 0 && memmem(p, n, sep, sep_len) != NULL;
}

int
csv_append_field(struct bytebuf *b, const char *p, size_t n, char quote, const char *sep,
                 size_t sep_len)
{
    const char *end = p + n;

    if (!csv_needs_quotes(p, n, quote, sep, sep_len)) {
        return bytebuf_append(b, p, n);
    }
    if (bytebuf_append(b, &quote, 1) != 0) {
        return -1;
    }
    while (p < end) {
        const char *q = memchr(p, quote, (size_t)(end - p));
        const char *stop = q != NULL ? q + 1 : end;

        /* a quote is written twice: once with the run it ends, once more on its own */
        if (bytebuf_append(b, p, (size_t)(stop - p)) != 0 ||
            (q != NULL && bytebuf_append(b, &quote, 1) != 0)) {
            return -1;
        }
        p = stop;
    }
    return bytebuf_append(b, &quote, 1);
}

size_t
csv_column_find(const struct csv_fields *header, const char *name, size_t n)
{
    for (size_t i = 0; i < header->n; i++) {
        if (header->v[i].n == n && memcmp(header->v[i].p, name, n) == 0) {
            return i + 1;
        }
    }
    return 0;
}

int
csv_column_list(struct bytebuf *b, const struct csv_fields *header)
{
    for (size_t i = 0; i < header->n; i++) {
        if (b->len > 300) {
            if (bytebuf_append(b, ", ...", 5) != 0) {
                return -1;
            }
            break;
        }
        if ((i > 0 && bytebuf_append(b, ", ", 2) != 0) ||
            bytebuf_append(b, header->v[i].p, header->v[i].n) != 0) {
            return -1;
        }
    }
    return bytebuf_append(b, "", 1) != 0 ? -1 : 0;
}
