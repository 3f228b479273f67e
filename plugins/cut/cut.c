/* plugins/cut/cut.c: the `cut` plugin, which keeps the selected fields of each record: split on
 * one byte like `LC_ALL=C cut -d D -f LIST`, or on runs of blanks like awk's default FS; fields
 * may be counted from the end (~1 is the last). With `format: csv`, fields are CSV fields, named
 * by the header's columns where the job has one, and written back with minimal quoting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tranche/plugin.h>

#include "../common/bytebuf.h"
#include "../common/csvfield.h"
#include "../common/fieldspec.h"
#include "../common/opterr.h"

struct cut_state {
    struct field_split split;
    struct field_spec spec;
    const char *separator; /* written between kept fields (output_delimiter) */
    size_t separator_len;
    int in_place_spans; /* one-byte delimiter written back as it is: kept spans move whole */
    struct bytebuf out; /* the output record, when it may be longer than the input */
    struct field_list fields;

    /* format: csv */
    int csv;
    char quote;
    struct csv_fields cells; /* the current row's fields, unescaped in place */
    char *header;            /* a copy of the header row, split into header_fields */
    struct csv_fields header_fields;
};

static const struct tranche_host *host;

static const struct tranche_option cut_options[] = {
    {"delimiter", TRANCHE_OPT_STRING, NULL, 0,
     "field separator: one character (\\t for a tab, the default), or whitespace (runs of "
     "blanks, as awk); with format: csv, the input's separator"},
    {"fields", TRANCHE_OPT_LIST, NULL, 1,
     "fields to keep, each N, N-M, -M or N- (1-based, like cut -f); ~K is the K-th from the end; "
     "with format: csv and header: true, a column name"},
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
    csv_fields_release(&s->cells);
    csv_fields_release(&s->header_fields);
    free(s->header);
    free(s);
}

/* Lines (and fastq): `delimiter` as cut(1) or awk take it, a tab when not given. */
static int
lines_options(struct cut_state *s, tranche_ctx *ctx)
{
    const char *output;

    if (host->opt_string(ctx, "delimiter") == NULL) {
        s->split = (struct field_split){0, '\t'};
    } else if (field_split_option(&s->split, host, ctx, "delimiter") != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    if (field_spec_parse_columns(&s->spec, host, ctx, "fields", NULL) != TRANCHE_OK) {
        return TRANCHE_ERROR;
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
    return TRANCHE_OK;
}

/*
 * CSV: the input's separator and quote; `delimiter`, if given, must be that separator. The
 * header row, when the job has one, is split once here so that `fields` may name its columns.
 */
static int
csv_options(struct cut_state *s, tranche_ctx *ctx, const struct tranche_format *format)
{
    const char *output = host->opt_string(ctx, "output_delimiter");
    const char *header = NULL;
    size_t header_len = 0;

    s->split = (struct field_split){0, format->delimiter[0]};
    s->quote = (char)format->quote;
    if (host->opt_string(ctx, "delimiter") != NULL) {
        struct field_split given;

        if (field_split_option(&given, host, ctx, "delimiter") != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
        if (given.blanks || given.delimiter != s->split.delimiter) {
            return PLUGIN_OPTION_ERROR(host, ctx, "delimiter",
                                       "with format: csv, fields are split on the input's "
                                       "separator '%c': leave delimiter out, or give that one",
                                       s->split.delimiter);
        }
    }
    if (TRANCHE_HOST_HAS(host, header)) {
        header = host->header(ctx, &header_len);
    }
    if (header != NULL) {
        s->header = malloc(header_len + 1);
        if (s->header == NULL) {
            return host->error(ctx, "out of memory");
        }
        memcpy(s->header, header, header_len + 1);
        if (csv_split(&s->header_fields, s->split.delimiter, s->quote, s->header, header_len,
                      SIZE_MAX) != 0) {
            return host->error(ctx, "out of memory");
        }
    }
    if (field_spec_parse_columns(&s->spec, host, ctx, "fields",
                                 header != NULL ? &s->header_fields : NULL) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    if (output != NULL) {
        field_separator_parse(output, &s->separator, &s->separator_len);
    } else {
        s->separator = &s->split.delimiter;
        s->separator_len = 1;
    }
    return TRANCHE_OK;
}

static int
cut_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    const struct tranche_format *format = NULL;
    struct cut_state *s;
    int rc;

    host = h;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    if (TRANCHE_HOST_HAS(host, format)) {
        format = host->format(ctx);
    }
    s->csv = format != NULL && format->kind == TRANCHE_FORMAT_CSV && format->delimiter_len == 1;
    rc = s->csv ? csv_options(s, ctx, format) : lines_options(s, ctx);
    if (rc != TRANCHE_OK) {
        /* A failed init gets no fini(), so it releases what it holds itself. */
        cut_fini(s);
        return TRANCHE_ERROR;
    }
    *state = s;
    return TRANCHE_OK;
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

/*
 * A CSV row: split (only up to the last field a run names, unless some bound counts from the
 * end), the kept fields written with minimal quoting. As Python's csv.writer, a row of one
 * empty field is written "", so that it reads back as that and not as an empty row.
 */
static int
keep_csv_fields(struct cut_state *s, tranche_ctx *ctx, char *data, size_t len)
{
    size_t limit = s->spec.from_end ? SIZE_MAX : s->spec.runs[s->spec.n_runs - 1].last;
    const struct field_run *runs;
    size_t n_runs;
    size_t kept = 0;
    size_t last_len = 0;

    if (csv_split(&s->cells, s->split.delimiter, s->quote, data, len, limit) != 0) {
        return host->error(ctx, "out of memory");
    }
    runs = field_spec_resolve(&s->spec, s->cells.n, &n_runs);
    s->out.len = 0;
    for (size_t i = 0; i < n_runs; i++) {
        for (size_t k = runs[i].first; k <= runs[i].last && k <= s->cells.n; k++) {
            const struct csv_span *f = &s->cells.v[k - 1];

            if ((kept > 0 && bytebuf_append(&s->out, s->separator, s->separator_len) != 0) ||
                csv_append_field(&s->out, f->p, f->n, s->quote, s->separator, s->separator_len) !=
                    0) {
                return host->error(ctx, "out of memory");
            }
            kept++;
            last_len = f->n;
        }
    }
    if (kept == 1 && last_len == 0) {
        char both[2] = {s->quote, s->quote};

        return host->emit(ctx, both, 2);
    }
    return host->emit(ctx, s->out.data != NULL ? s->out.data : "", s->out.len);
}

static int
cut_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct cut_state *s = state;
    size_t n_fields = 0;
    size_t n_runs;
    const struct field_run *runs;

    if (s->csv) {
        return keep_csv_fields(s, ctx, data, len);
    }

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
    .version = "1.2",
    .description = "keeps selected fields, like LC_ALL=C cut -d D -f LIST or awk '{print $1, $3}'",
    .options = cut_options,
    .init = cut_init,
    .record = cut_record,
    .fini = cut_fini,
    /* the header row is cut as a record is: its selected columns, quoted the same way */
    .header = cut_record,
};
