/* plugins/cut/cut.c: the `cut` plugin, which keeps the selected delimiter-separated fields of
 * each record, like `LC_ALL=C cut -d D -f LIST`. */
#define _DEFAULT_SOURCE /* strdup, strsep */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tranche/plugin.h>

/* A run of selected fields, 1-based and inclusive; `last` is SIZE_MAX for "to the end". */
struct field_range {
    size_t first;
    size_t last;
};

/* Ranges are sorted and merged, with a gap of at least one field between neighbours. */
struct cut_state {
    char delimiter;
    struct field_range *ranges;
    size_t count;
};

static const struct tranche_host *host;

static const struct tranche_option cut_options[] = {
    {"delimiter", TRANCHE_OPT_STRING, "\\t", 0, "field separator, one character (\\t for a tab)"},
    {"fields", TRANCHE_OPT_LIST, NULL, 1,
     "fields to keep, each N, N-M, -M or N- (1-based), like cut -f"},
    {NULL, 0, NULL, 0, NULL},
};

/* Reads a field number of decimal digits at *p and moves *p past them; 0 if there are none. */
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

/* Parses one comma-free piece of a fields item into *r; returns NULL or why it is bad. */
static const char *
parse_range(const char *piece, struct field_range *r)
{
    const char *p = piece;
    int overflow = 0;
    int has_first = *p >= '0' && *p <= '9';
    size_t first = parse_number(&p, &overflow);
    int dash = *p == '-';

    if (dash) {
        p++;
    }

    int has_last = *p >= '0' && *p <= '9';
    size_t last = parse_number(&p, &overflow);

    if (*piece == '\0') {
        return "empty field spec";
    }
    if (*p != '\0' || (!has_first && !has_last)) {
        return "expected N, N-M, -M or N-";
    }
    if (overflow) {
        return "field number too large";
    }
    if ((has_first && first == 0) || (has_last && last == 0)) {
        return "fields are numbered from 1";
    }
    r->first = has_first ? first : 1;
    r->last = has_last ? last : (dash ? SIZE_MAX : first);
    if (r->last < r->first) {
        return "decreasing range";
    }
    return NULL;
}

static int
range_cmp(const void *a, const void *b)
{
    const struct field_range *x = a;
    const struct field_range *y = b;

    return (x->first > y->first) - (x->first < y->first);
}

/* Sorts and merges overlapping or adjacent ranges, so fields come out in order and once. */
static void
merge_ranges(struct cut_state *s)
{
    size_t out = 0;

    qsort(s->ranges, s->count, sizeof(*s->ranges), range_cmp);
    for (size_t i = 0; i < s->count; i++) {
        struct field_range *prev = out > 0 ? &s->ranges[out - 1] : NULL;

        if (prev != NULL && (prev->last == SIZE_MAX || s->ranges[i].first <= prev->last + 1)) {
            if (s->ranges[i].last > prev->last) {
                prev->last = s->ranges[i].last;
            }
        } else {
            s->ranges[out++] = s->ranges[i];
        }
    }
    s->count = out;
}

/* Appends the ranges of one list item (which may hold commas) to s->ranges. */
static int
add_item(struct cut_state *s, tranche_ctx *ctx, const char *item)
{
    size_t pieces = 1;

    for (const char *c = item; *c != '\0'; c++) {
        pieces += *c == ',';
    }

    struct field_range *grown = realloc(s->ranges, (s->count + pieces) * sizeof(*grown));

    if (grown == NULL) {
        return host->error(ctx, "out of memory");
    }
    s->ranges = grown;

    char *copy = strdup(item);
    char *rest = copy;
    int rc = TRANCHE_OK;

    if (copy == NULL) {
        return host->error(ctx, "out of memory");
    }
    for (size_t i = 0; i < pieces; i++) {
        char *piece = strsep(&rest, ",");
        const char *why = parse_range(piece, &s->ranges[s->count]);

        if (why != NULL && pieces > 1) {
            rc = host->error(ctx, "bad fields item '%s': '%s': %s", item, piece, why);
            break;
        }
        if (why != NULL) {
            rc = host->error(ctx, "bad fields item '%s': %s", item, why);
            break;
        }
        s->count++;
    }
    free(copy);
    return rc;
}

static void
cut_fini(void *state)
{
    struct cut_state *s = state;

    if (s == NULL) {
        return;
    }
    free(s->ranges);
    free(s);
}

static int
parse_delimiter(const char *text, char *out)
{
    if (text != NULL && strcmp(text, "\\t") == 0) {
        *out = '\t';
        return 0;
    }
    if (text == NULL || strlen(text) != 1) {
        return -1;
    }
    *out = text[0];
    return 0;
}

static int
cut_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    const char *delimiter;
    size_t items;
    struct cut_state *s;

    host = h;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    delimiter = host->opt_string(ctx, "delimiter");
    if (parse_delimiter(delimiter, &s->delimiter) != 0) {
        host->error(ctx, "delimiter must be one character (or \\t), got '%s'",
                    delimiter != NULL ? delimiter : "");
        goto fail;
    }
    items = host->opt_list_len(ctx, "fields");
    if (items == 0) {
        host->error(ctx, "option 'fields' needs at least one field");
        goto fail;
    }
    for (size_t i = 0; i < items; i++) {
        const char *item = host->opt_list_item(ctx, "fields", i);

        if (add_item(s, ctx, item != NULL ? item : "") != TRANCHE_OK) {
            goto fail;
        }
    }
    merge_ranges(s);
    *state = s;
    return TRANCHE_OK;
fail:
    /* A failed init gets no fini(), so it releases what it holds itself. */
    cut_fini(s);
    return TRANCHE_ERROR;
}

/*
 * The output is never longer than the input up to any point: each kept span is preceded by at
 * least one dropped field and its delimiter, which pays for the one delimiter written between
 * spans. So the record is compacted in place with memmove, with no buffer at all.
 */
static int
cut_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    const struct cut_state *s = state;
    const char delim = s->delimiter;
    char *end = data + len;
    char *field_start = data; /* start of field number `field` */
    size_t field = 1;
    size_t out = 0;
    int wrote = 0; /* a kept span may be empty, so `out` cannot tell */
    int more = 1;  /* whether field number `field` exists */

    if (memchr(data, delim, len) == NULL) {
        return host->emit(ctx, data, len);
    }
    for (size_t i = 0; i < s->count && more; i++) {
        const struct field_range *r = &s->ranges[i];
        char *span_start;
        char *span_end;

        while (field < r->first) {
            char *d = memchr(field_start, delim, (size_t)(end - field_start));

            if (d == NULL) {
                more = 0;
                break;
            }
            field_start = d + 1;
            field++;
        }
        if (!more) {
            break;
        }
        span_start = field_start;
        for (;;) {
            char *d = memchr(field_start, delim, (size_t)(end - field_start));

            if (d == NULL) {
                span_end = end;
                more = 0;
                break;
            }
            field_start = d + 1;
            if (field++ == r->last) {
                span_end = d;
                break;
            }
        }
        if (wrote) {
            data[out++] = delim;
        }
        wrote = 1;
        memmove(data + out, span_start, (size_t)(span_end - span_start));
        out += (size_t)(span_end - span_start);
    }
    return host->emit(ctx, data, out);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "cut",
    .version = "1.0",
    .description = "keeps selected delimiter-separated fields, like LC_ALL=C cut -d D -f LIST",
    .options = cut_options,
    .init = cut_init,
    .record = cut_record,
    .fini = cut_fini,
};
