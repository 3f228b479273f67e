/* plugins/upper/upper.c: the `upper` plugin, which maps ASCII a-z to A-Z in place and emits the
 * record; every other byte passes unchanged, as with `LC_ALL=C tr a-z A-Z`. Optionally only in
 * some fields. Compiled a second time with CASE_LOWER defined, it is the `lower` plugin (A-Z to
 * a-z), from plugins/lower/lower.c. */
#include <stdlib.h>
#include <string.h>

#include <tranche/plugin.h>

#include "../common/fieldspec.h"

#ifdef CASE_LOWER
#define CASE_NAME "lower"
#define CASE_FIRST 'A'
#define CASE_LIKE "tr A-Z a-z"
#else
#define CASE_NAME "upper"
#define CASE_FIRST 'a'
#define CASE_LIKE "tr a-z A-Z"
#endif

/*
 * GCC 12 at -O2 does not vectorise the plain byte loop (its cheap cost model refuses loops that
 * need a scalar epilogue, and SSE has no byte shift), so the bulk goes through explicit vector
 * types, which GCC and Clang both lower to SIMD at any optimisation level. memcpy keeps the
 * loads and stores free of alignment and aliasing assumptions and compiles to plain moves.
 */
typedef unsigned char bytes16 __attribute__((vector_size(16)));
typedef signed char mask16 __attribute__((vector_size(16)));

static const struct tranche_host *host;

/* With no `fields` option, spec.count is 0 and the whole record is converted. */
struct case_state {
    struct field_split split;
    struct field_spec spec;
    struct field_list fields;
};

static const struct tranche_option case_options[] = {
    {"fields", TRANCHE_OPT_LIST, NULL, 0,
     "convert only these fields (cut's syntax: N, N-M, -M, N-, ~K from the end); default: all"},
    {"delimiter", TRANCHE_OPT_STRING, "\\t", 0,
     "field separator for fields: one character (\\t for a tab), or whitespace (runs of blanks)"},
    {NULL, 0, NULL, 0, NULL},
};

static unsigned char
case_byte(unsigned char c)
{
    /* (c - 'a') wraps to a large value for bytes below 'a', so one compare covers both ends. */
    return (unsigned char)(c ^ ((unsigned char)(c - CASE_FIRST) < 26 ? 0x20 : 0));
}

static bytes16
case_block(bytes16 v)
{
    /* A vector compare yields all-ones lanes where true; keep bit 5 of those and flip it. */
    mask16 in_range = (v - (unsigned char)CASE_FIRST) < (unsigned char)26;

    return v ^ ((bytes16)in_range & (unsigned char)0x20);
}

static void
case_buffer(unsigned char *p, size_t len)
{
    size_t i = 0;

    for (; i + 64 <= len; i += 64) {
        bytes16 a, b, c, d;

        memcpy(&a, p + i, 16);
        memcpy(&b, p + i + 16, 16);
        memcpy(&c, p + i + 32, 16);
        memcpy(&d, p + i + 48, 16);
        a = case_block(a);
        b = case_block(b);
        c = case_block(c);
        d = case_block(d);
        memcpy(p + i, &a, 16);
        memcpy(p + i + 16, &b, 16);
        memcpy(p + i + 32, &c, 16);
        memcpy(p + i + 48, &d, 16);
    }
    for (; i + 16 <= len; i += 16) {
        bytes16 a;

        memcpy(&a, p + i, 16);
        a = case_block(a);
        memcpy(p + i, &a, 16);
    }
    for (; i < len; i++) {
        p[i] = case_byte(p[i]);
    }
}

static void
case_fini(void *state)
{
    struct case_state *s = state;

    if (s == NULL) {
        return;
    }
    field_spec_release(&s->spec);
    field_list_release(&s->fields);
    free(s);
}

static int
case_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    struct case_state *s;

    host = h;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    if (field_split_option(&s->split, host, ctx, "delimiter") != TRANCHE_OK) {
        goto fail;
    }
    if (host->opt_list_len(ctx, "fields") > 0 &&
        field_spec_parse(&s->spec, host, ctx, "fields") != TRANCHE_OK) {
        goto fail;
    }
    *state = s;
    return TRANCHE_OK;
fail:
    /* A failed init gets no fini(), so it releases what it holds itself. */
    case_fini(s);
    return TRANCHE_ERROR;
}

/* Converts the selected fields in place; delimiters and the other fields stay as they are. */
static int
case_fields(struct case_state *s, tranche_ctx *ctx, char *data, size_t len)
{
    const struct field_run *runs;
    size_t n_runs;

    if (field_list_fill(&s->fields, &s->spec, s->split, data, len) != 0) {
        return host->error(ctx, "out of memory");
    }
    runs = field_spec_resolve(&s->spec, s->fields.n, &n_runs);
    for (size_t i = 0; i < n_runs; i++) {
        for (size_t k = runs[i].first; k <= runs[i].last && k <= s->fields.n; k++) {
            const struct field_span *f = &s->fields.v[k - 1];

            case_buffer((unsigned char *)f->start, (size_t)(f->stop - f->start));
        }
    }
    return host->emit(ctx, data, len);
}

static int
case_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct case_state *s = state;

    if (s->spec.count > 0) {
        return case_fields(s, ctx, data, len);
    }
    case_buffer((unsigned char *)data, len);
    return host->emit(ctx, data, len);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = CASE_NAME,
    .version = "1.1",
    .description = "converts ASCII letters, like LC_ALL=C " CASE_LIKE ", optionally in some fields",
    .options = case_options,
    .init = case_init,
    .record = case_record,
    .fini = case_fini,
};
