/* plugins/cut/cut.c: the `cut` plugin, which keeps the selected fields of each record: split on
 * one byte like `LC_ALL=C cut -d D -f LIST`, or on runs of blanks like awk's default FS; fields
 * may be counted from the end (~1 is the last). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tranche/plugin.h>

#include "../common/bytebuf.h"
#include "../common/fieldspec.h"

struct cut_state {
    struct field_split split;
    struct field_spec spec;
    const char *separator; /* written between kept fields (output_delimiter) */
    size_t separator_len;
    int in_place_spans; /* one-byte delimiter written back as it is: kept spans move whole */
    struct bytebuf out; /* the output record, when it may be longer than the input */
    struct field_list fields;
};

static const struct tranche_host *host;

static const struct tranche_option cut_options[] = {
    {"delimiter", TRANCHE_OPT_STRING, "\\t", 0,
     "field separator: one character (\\t for a tab), or whitespace (runs of blanks, as awk)"},
    {"fields", TRANCHE_OPT_LIST, NULL, 1,
     "fields to keep, each N, N-M, -M or N- (1-based, like cut -f); ~K is the K-th from the end"},
    {"output_delimiter", TRANCHE_OPT_STRING, NULL, 0,
     "written between kept fields (default: the delimiter; a space for whitespace)"},
    {NULL, 0, NULL, 0, NULL},
};

static void
cut_fini(void *state)
{
    struct cut_state *s = state;

    if (s == NULL) {
        return;
    }
    field_spec_release(&s->spec);
    field_list_release(&s->fields);
    bytebuf_release(&s->out);
    free(s);
}

static int
cut_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    const char *output;
    struct cut_state *s;

    host = h;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    if (field_split_option(&s->split, host, ctx, "delimiter") != TRANCHE_OK) {
        goto fail;
    }
    if (field_spec_parse(&s->spec, host, ctx, "fields") != TRANCHE_OK) {
        goto fail;
    }
    output = host->opt_string(ctx, "output_delimiter");
    if (output != NULL) {
        field_separator_parse(output, &s->separator, &s->separator_len);
    } else {
        s->separator = s->split.blanks ? " " : &s->split.delimiter;
        s->separator_len = 1;
    }
    s->in_place_spans =
        !s->split.blanks && s->separator_len == 1 && s->separator[0] == s->split.delimiter;
    *state = s;
    return TRANCHE_OK;
fail:
    /* A failed init gets no fini(), so it releases what it holds itself. */
    cut_fini(s);
    return TRANCHE_ERROR;
}

/*
 * With the delimiter written back as it is, the output is never longer than the input up to any
 * point: each kept span is preceded by at least one dropped field and its delimiter, which pays
 * for the one delimiter written between spans. So the record is compacted in place with memmove,
 * a whole run of fields at a time.
 */
static size_t
keep_spans(char delim, char *data, size_t len, const struct field_run *runs, size_t n_runs)
{
    char *end = data + len;
    char *field_start = data; /* start of field number `field` */
    size_t field = 1;
    size_t out = 0;
    int wrote = 0; /* a kept span may be empty, so `out` cannot tell */
    int more = 1;  /* whether field number `field` exists */

    for (size_t i = 0; i < n_runs && more; i++) {
        const struct field_run *r = &runs[i];
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
    return out;
}

/* Appends n bytes at dst + *at: in place (dst is the record) or to s->out. */
static int
put(struct cut_state *s, char *dst, size_t *at, const char *src, size_t n)
{
    if (dst == NULL) {
        return bytebuf_append(&s->out, src, n);
    }
    memmove(dst + *at, src, n);
    *at += n;
    return 0;
}

/*
 * Field by field, with the output delimiter between kept fields. A separator of at most one byte
 * fits where the input had at least one (a delimiter, or a run of blanks), so the record is then
 * rewritten in place; a longer one is built in s->out.
 */
static int
keep_fields(struct cut_state *s, tranche_ctx *ctx, char *data, size_t len)
{
    char *dst = s->separator_len <= 1 ? data : NULL;
    const struct field_run *runs;
    size_t n_runs;
    size_t out = 0;
    int wrote = 0;

    if (field_list_fill(&s->fields, &s->spec, s->split, data, len) != 0) {
        return host->error(ctx, "out of memory");
    }
    runs = field_spec_resolve(&s->spec, s->fields.n, &n_runs);
    s->out.len = 0;
    for (size_t i = 0; i < n_runs; i++) {
        for (size_t k = runs[i].first; k <= runs[i].last && k <= s->fields.n; k++) {
            const struct field_span *f = &s->fields.v[k - 1];

            if ((wrote && put(s, dst, &out, s->separator, s->separator_len) != 0) ||
                put(s, dst, &out, f->start, (size_t)(f->stop - f->start)) != 0) {
                return host->error(ctx, "out of memory");
            }
            wrote = 1;
        }
    }
    if (dst == NULL && s->out.len > 0) {
        return host->emit(ctx, s->out.data, s->out.len);
    }
    return host->emit(ctx, data, out); /* (out is 0 when nothing was built) */
}

static int
cut_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct cut_state *s = state;
    size_t n_fields = 0;
    size_t n_runs;
    const struct field_run *runs;

    /* cut(1) passes a line without its delimiter through whole; awk's fields have no such case */
    if (!s->split.blanks && memchr(data, s->split.delimiter, len) == NULL) {
        return host->emit(ctx, data, len);
    }
    if (!s->in_place_spans) {
        return keep_fields(s, ctx, data, len);
    }
    if (s->spec.from_end) {
        n_fields = field_count_delimited(s->split.delimiter, data, len);
    }
    runs = field_spec_resolve(&s->spec, n_fields, &n_runs);
    return host->emit(ctx, data, keep_spans(s->split.delimiter, data, len, runs, n_runs));
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "cut",
    .version = "1.1",
    .description = "keeps selected fields, like LC_ALL=C cut -d D -f LIST or awk '{print $1, $3}'",
    .options = cut_options,
    .init = cut_init,
    .record = cut_record,
    .fini = cut_fini,
};
