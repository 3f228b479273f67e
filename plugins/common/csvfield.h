/* plugins/common/csvfield.h: CSV fields (RFC 4180, read as Python's csv module reads them) for
 * the cut and count plugins: one row split into unescaped fields, and fields written back with
 * minimal quoting. */
#ifndef TRANCHE_PLUGINS_CSVFIELD_H
#define TRANCHE_PLUGINS_CSVFIELD_H

#include <stddef.h>

#include "bytebuf.h"

/* One field's value, unescaped: p[0, n). */
struct csv_span {
    char *p;
    size_t n;
};

/* The fields of one row. Safe on a zeroed struct; reused row after row. */
struct csv_fields {
    struct csv_span *v;
    size_t n;
    size_t cap;
};

/*
 * Splits one row (a record, without its line ending) on `separator` into at most `limit` fields
 * (SIZE_MAX: all), unescaping each in place: the values are never longer than the text they come
 * from, so data[0, len) is overwritten and f->v points into it. The rules are those of Python's
 * csv reader with its default dialect options (doublequote, strict=False):
 *   - a field that begins with `quote` is quoted: inside it, two quotes are one literal quote,
 *     and the separator, CR and LF are literal; the quote that closes it is dropped, and what
 *     follows it up to the next separator is appended as it is;
 *   - any other field is literal up to the next separator (a quote inside it is a quote);
 *   - a row that ends inside a quoted field ends that field;
 *   - an empty row has no fields (as Python reads a blank line); "" is one empty field.
 * Returns 0, or -1 when out of memory.
 */
int csv_split(struct csv_fields *f, char separator, char quote, char *data, size_t len,
              size_t limit);

void csv_fields_release(struct csv_fields *f);

/* Whether a value must be quoted to be read back as one field: it holds the quote, CR, LF, or
 * the separator written between fields (sep[0, sep_len), any length). */
int csv_needs_quotes(const char *p, size_t n, char quote, const char *sep, size_t sep_len);

/* Appends one value to b, quoted (with its quotes doubled) when csv_needs_quotes says so, else
 * as it is; as Python's csv.writer with QUOTE_MINIMAL writes it. Returns 0, or -1 when out of
 * memory. */
int csv_append_field(struct bytebuf *b, const char *p, size_t n, char quote, const char *sep,
                     size_t sep_len);

/* The 1-based number of the first field of `header` whose value is name[0, n) (the first of
 * several with one name wins), or 0 when there is none. */
size_t csv_column_find(const struct csv_fields *header, const char *name, size_t n);

/* Appends the header's column names to b, for a message: separated by ", ", cut short with
 * "..." past about 300 bytes, NUL-terminated. Returns 0, or -1 when out of memory. */
int csv_column_list(struct bytebuf *b, const struct csv_fields *header);

#endif
