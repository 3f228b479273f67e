/* plugins/common/fieldspec.c: the `fields` syntax and field splitting shared by cut, upper and
 * lower (see fieldspec.h). Compiled into each of those plugins; it exports nothing. */
#define _GNU_SOURCE /* strdup, strsep, memrchr */
#include "fieldspec.h"
#include "opterr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Reads decimal digits at *p and moves *p past them; 0 if there are none. */
static size_t
parse_number(const char **p, int *overflow)
{
    size_t n = 0;

    while (**p >= '0' && **p <= '9') {
        size_t digit = (size_t)(**p - '0');

        if (n > (SIZE_MAX - 1 - digit) / 10) {
            *overflow = 1;
        } else {
            n = n * 10 + digit;
        }
        (*p)++;
    }
    return n;
}

/* Reads N or ~N at *p; returns 0 if there is neither, 1 if there is, -1 if '~' has no digits. */
static int
parse_bound(const char **p, struct field_bound *b, int *overflow)
{
    b->from_end = **p == '~';
    if (b->from_end) {
        (*p)++;
    }
    if (**p < '0' || **p > '9') {
        return b->from_end ? -1 : 0;
    }
    b->n = parse_number(p, overflow);
    return 1;
}

/* Parses one comma-free piece into *r; returns NULL or why it is bad. */
static const char *
parse_range(const char *piece, struct field_range *r)
{
    static const char *const syntax = "expected N, N-M, -M, N- (N, M: a field number, or ~K for "
                                      "the K-th field from the end)";
    const char *p = piece;
    int overflow = 0;
    int has_first = parse_bound(&p, &r->first, &overflow);
    int dash = *p == '-';
    int has_last = 0;

    if (*piece == '\0') {
        return "empty field spec";
    }
    if (dash) {
        p++;
        has_last = parse_bound(&p, &r->last, &overflow);
    }
    if (has_first < 0 || has_last < 0 || *p != '\0' || (!has_first && !has_last)) {
        return syntax;
    }
    if (overflow) {
        return "field number too large";
    }
    if ((has_first && r->first.n == 0) || (has_last && r->last.n == 0)) {
        return "fields are numbered from 1 (~1 is the last)";
    }
    if (!has_first) {
        r->first = (struct field_bound){1, 0};
    }
    if (!has_last) {
        r->last = dash ? (struct field_bound){SIZE_MAX, 0} : r->first;
    }
    if (r->first.from_end == r->last.from_end &&
        (r->first.from_end ? r->last.n > r->first.n : r->last.n < r->first.n)) {
        return "decreasing range";
    }
    return NULL;
}

/* Where items may be column names: `header` (NULL: the job has none) names the columns. */
struct columns {
    int allowed;
    const struct csv_fields *header;
};

static int
is_column_name(const char *item)
{
    return item[0] != '\0' && !(item[0] >= '0' && item[0] <= '9') && item[0] != '~' &&
           item[0] != '-';
}

/* Appends the one-field range of column `item`, found in the header. */
static int
add_column(struct field_spec *spec, const struct tranche_host *host, tranche_ctx *ctx,
           const char *option, size_t index, const char *item, const struct csv_fields *header)
{
    struct field_range *grown;
    size_t n;

    if (header == NULL) {
        return PLUGIN_OPTION_ITEM_ERROR(host, ctx, option, index,
                                        "bad %s item '%s': a column name needs the input's "
                                        "`format: csv` and `header: true` (else: N, N-M, -M, "
                                        "N- or ~K)",
                                        option, item);
    }
    n = csv_column_find(header, item, strlen(item));
    if (n == 0) {
        struct bytebuf list = {0};
        int rc;

        if (csv_column_list(&list, header) != 0) {
            bytebuf_release(&list);
            return host->error(ctx, "out of memory");
        }
        rc = PLUGIN_OPTION_ITEM_ERROR(host, ctx, option, index,
                                      "bad %s item '%s': no such column in the header (its "
                                      "columns: %s)",
                                      option, item, list.data);
        bytebuf_release(&list);
        return rc;
    }
    grown = realloc(spec->ranges, (spec->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        return host->error(ctx, "out of memory");
    }
    spec->ranges = grown;
    spec->ranges[spec->count++] = (struct field_range){{n, 0}, {n, 0}};
    return TRANCHE_OK;
}

/* Appends the ranges of one list item, item `index` of `option` (it may hold commas), to
 * spec->ranges. */
static int
add_item(struct field_spec *spec, const struct tranche_host *host, tranche_ctx *ctx,
         const char *option, size_t index, const char *item, const struct columns *columns)
{
    size_t pieces = 1;
    char *copy;
    char *rest;
    int rc = TRANCHE_OK;

    if (columns->allowed && is_column_name(item)) {
        return add_column(spec, host, ctx, option, index, item, columns->header);
    }
    for (const char *c = item; *c != '\0'; c++) {
        pieces += *c == ',';
    }

    struct field_range *grown = realloc(spec->ranges, (spec->count + pieces) * sizeof(*grown));

    if (grown == NULL) {
        return host->error(ctx, "out of memory");
    }
    spec->ranges = grown;
    copy = strdup(item);
    if (copy == NULL) {
        return host->error(ctx, "out of memory");
    }
    rest = copy;
    for (size_t i = 0; i < pieces; i++) {
        char *piece = strsep(&rest, ",");
        struct field_range *r = &spec->ranges[spec->count];
        const char *why = parse_range(piece, r);

        if (why != NULL) {
            rc = pieces > 1 ? PLUGIN_OPTION_ITEM_ERROR(host, ctx, option, index,
                                                       "bad %s item '%s': '%s': %s", option, item,
                                                       piece, why)
                            : PLUGIN_OPTION_ITEM_ERROR(host, ctx, option, index,
                                                       "bad %s item '%s': %s", option, item, why);
            break;
        }
        spec->from_end |= r->first.from_end || r->last.from_end;
        spec->count++;
    }
    free(copy);
    return rc;
}

/* Sorts spec->runs[0, n) by first field (insertion sort: lists are short) and merges overlapping
 * or adjacent runs, so that fields come out in order and once. */
static void
merge_runs(struct field_spec *spec, size_t n)
{
    struct field_run *v = spec->runs;
    size_t out = 0;

    for (size_t i = 1; i < n; i++) {
        struct field_run x = v[i];
        size_t j = i;

        for (; j > 0 && v[j - 1].first > x.first; j--) {
            v[j] = v[j - 1];
        }
        v[j] = x;
    }
    for (size_t i = 0; i < n; i++) {
        struct field_run *prev = out > 0 ? &v[out - 1] : NULL;

        if (prev != NULL && (prev->last == SIZE_MAX || v[i].first <= prev->last + 1)) {
            if (v[i].last > prev->last) {
                prev->last = v[i].last;
            }
        } else {
            v[out++] = v[i];
        }
    }
    spec->n_runs = out;
}

static int
parse_spec(struct field_spec *spec, const struct tranche_host *host, tranche_ctx *ctx,
           const char *option, const struct columns *columns)
{
    size_t items = host->opt_list_len(ctx, option);

    if (items == 0) {
        return PLUGIN_OPTION_ERROR(host, ctx, option, "option '%s' needs at least one field",
                                   option);
    }
    for (size_t i = 0; i < items; i++) {
        const char *item = host->opt_list_item(ctx, option, i);

        if (add_item(spec, host, ctx, option, i, item != NULL ? item : "", columns) != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
    }
    spec->tail = 0;
    for (size_t i = 0; i < spec->count; i++) {
        const struct field_range *r = &spec->ranges[i];
        int open_end = !r->last.from_end && r->last.n == SIZE_MAX;

        if (!r->first.from_end || (!r->last.from_end && !open_end)) {
            spec->tail = 0;
            break;
        }
        spec->tail = r->first.n > spec->tail ? r->first.n : spec->tail;
    }
    spec->runs = malloc(spec->count * sizeof(*spec->runs));
    if (spec->runs == NULL) {
        return host->error(ctx, "out of memory");
    }
    if (!spec->from_end) {
        size_t unused;

        spec->from_end = 1; /* resolve once, for any field count */
        field_spec_resolve(spec, 0, &unused);
        spec->from_end = 0;
    }
    return TRANCHE_OK;
}

int
field_spec_parse(struct field_spec *spec, const struct tranche_host *host, tranche_ctx *ctx,
                 const char *option)
{
    const struct columns none = {0, NULL};

    return parse_spec(spec, host, ctx, option, &none);
}

int
field_spec_parse_columns(struct field_spec *spec, const struct tranche_host *host, tranche_ctx *ctx,
                         const char *option, const struct csv_fields *header)
{
    const struct columns columns = {1, header};

    return parse_spec(spec, host, ctx, option, &columns);
}

void
field_spec_release(struct field_spec *spec)
{
    free(spec->ranges);
    free(spec->runs);
    memset(spec, 0, sizeof(*spec));
}

/* Field number of bound b in a record of n fields; 0 when it falls before the first field. */
static size_t
resolve_bound(struct field_bound b, size_t n_fields)
{
    if (!b.from_end) {
        return b.n;
    }
    return b.n > n_fields ? 0 : n_fields + 1 - b.n;
}

const struct field_run *
field_spec_resolve(struct field_spec *spec, size_t n_fields, size_t *count)
{
    size_t n = 0;

    if (!spec->from_end) {
        *count = spec->n_runs;
        return spec->runs;
    }
    for (size_t i = 0; i < spec->count; i++) {
        size_t first = resolve_bound(spec->ranges[i].first, n_fields);
        size_t last = resolve_bound(spec->ranges[i].last, n_fields);

        if (first == 0) {
            first = 1;
        }
        if (last >= first) {
            spec->runs[n++] = (struct field_run){first, last};
        }
    }
    merge_runs(spec, n);
    *count = spec->n_runs;
    return spec->runs;
}

int
field_split_option(struct field_split *out, const struct tranche_host *host, tranche_ctx *ctx,
                   const char *option)
{
    const char *text = host->opt_string(ctx, option);

    if (text != NULL && strcmp(text, "whitespace") == 0) {
        *out = (struct field_split){1, ' '};
    } else if (text != NULL && strcmp(text, "\\t") == 0) {
        *out = (struct field_split){0, '\t'};
    } else if (text != NULL && strlen(text) == 1) {
        *out = (struct field_split){0, text[0]};
    } else {
        return PLUGIN_OPTION_ERROR(host, ctx, option,
                                   "%s must be one character, \\t or whitespace, got '%s'", option,
                                   text != NULL ? text : "");
    }
    return TRANCHE_OK;
}

void
field_separator_parse(const char *text, const char **out, size_t *len)
{
    if (text == NULL || strcmp(text, "\\t") == 0) {
        *out = "\t";
        *len = 1;
        return;
    }
    *out = text;
    *len = strlen(text);
}

/* Whether any byte of w is zero (exact: the classic test has false positives only above a true
 * zero byte). */
static int
has_zero_byte(uint64_t w)
{
    return ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL) != 0;
}

static int
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The first blank (space or tab) in [p, end), or end; eight bytes at a time where none is. */
static char *
find_blank(char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t w;

        memcpy(&w, p, 8);
        if (has_zero_byte(w ^ 0x2020202020202020ULL) || has_zero_byte(w ^ 0x0909090909090909ULL)) {
            break;
        }
        p += 8;
    }
    while (p < end && !is_blank(*p)) {
        p++;
    }
    return p;
}

static int
push_span(struct field_list *l, char *start, char *stop)
{
    if (l->n == l->cap) {
        size_t cap = l->cap > 0 ? l->cap * 2 : 32;
        struct field_span *grown = realloc(l->v, cap * sizeof(*grown));

        if (grown == NULL) {
            return -1;
        }
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n++] = (struct field_span){start, stop};
    return 0;
}

static int
field_list_split(struct field_list *l, struct field_split split, char *data, size_t len,
                 size_t limit)
{
    char *p = data;
    char *end = data + len;

    l->n = 0;
    while (l->n < limit) {
        char *stop;

        if (split.blanks) {
            while (p < end && is_blank(*p)) {
                p++;
            }
            if (p == end) {
                break;
            }
            stop = find_blank(p, end);
        } else {
            stop = memchr(p, split.delimiter, (size_t)(end - p));
            stop = stop != NULL ? stop : end;
        }
        if (push_span(l, p, stop) != 0) {
            return -1;
        }
        if (stop == end) {
            break;
        }
        p = stop + 1;
    }
    return 0;
}

void
field_list_release(struct field_list *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

size_t
field_count_delimited(char delimiter, const char *data, size_t len)
{
    const char *end = data + len;
    size_t n = 1; /* one more field than delimiters */

    for (const char *d = data; (d = memchr(d, delimiter, (size_t)(end - d))) != NULL; d++) {
        n++;
    }
    return n;
}

/*
 * The last `tail` fields (or all, if the record has fewer), found from the end: for a spec such as
 * ~1 the rest of the record is never read. In list order, as field_list_split would give them.
 */
static int
split_tail(struct field_list *l, struct field_split split, char *data, size_t len, size_t tail)
{
    char *stop = data + len;

    l->n = 0;
    while (l->n < tail) {
        char *start;

        if (split.blanks) {
            while (stop > data && is_blank(stop[-1])) {
                stop--;
            }
            if (stop == data) {
                break;
            }
            for (start = stop; start > data && !is_blank(start[-1]); start--) {
            }
        } else {
            start = memrchr(data, split.delimiter, (size_t)(stop - data));
            start = start != NULL ? start + 1 : data;
        }
        if (push_span(l, start, stop) != 0) {
            return -1;
        }
        if (start == data) {
            break;
        }
        stop = split.blanks ? start : start - 1;
    }
    for (size_t i = 0; i < l->n / 2; i++) {
        struct field_span t = l->v[i];

        l->v[i] = l->v[l->n - 1 - i];
        l->v[l->n - 1 - i] = t;
    }
    return 0;
}

int
field_list_fill(struct field_list *l, const struct field_spec *spec, struct field_split split,
                char *data, size_t len)
{
    if (spec->tail > 0) {
        return split_tail(l, split, data, len, spec->tail);
    }
    return field_list_split(l, split, data, len,
                            spec->from_end ? SIZE_MAX : spec->runs[spec->n_runs - 1].last);
}
