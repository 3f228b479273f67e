/*
 * tests/plugins/tagger.c: prefixes each record with where it came from, as record_info() says:
 * "PATH<TAB>INPUT<TAB>OFFSET<TAB>LENGTH<TAB>PARTITION<TAB>PART_OFFSET<TAB>PART_LENGTH<TAB>"
 * then the record. With `frame: true` it also emits a BEGIN and an END record (the same fields,
 * no record) from begin_partition and end_partition. Two taggers in a chain show what a later
 * step sees for records an earlier one emitted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tranche/plugin.h>

struct tagger {
    const struct tranche_host *host;
    int frame;
    char *buf;
    size_t cap;
};

static const struct tranche_option tagger_options[] = {
    {"frame", TRANCHE_OPT_BOOL, "false", 0, "also emit BEGIN and END records per partition"},
    {NULL, 0, NULL, 0, NULL},
};

static int
tagger_init(tranche_ctx *ctx, const struct tranche_host *host, void **state)
{
    struct tagger *t;

    if (!TRANCHE_HOST_HAS(host, record_info)) {
        return host->error(ctx, "this host has no record_info");
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return host->error(ctx, "out of memory");
    }
    t->host = host;
    t->frame = host->opt_bool(ctx, "frame");
    *state = t;
    return TRANCHE_OK;
}

/* Emits the fields of record_info(), then data[0, len). */
static int
emit_tagged(struct tagger *t, tranche_ctx *ctx, const char *data, size_t len)
{
    const struct tranche_record_info *ri = t->host->record_info(ctx);
    int n;

    if (ri == NULL || ri->size < sizeof(*ri)) {
        return t->host->error(ctx, "record_info gave %s", ri == NULL ? "NULL" : "a short struct");
    }
    for (;;) {
        n = snprintf(t->buf, t->cap,
                     "%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
                     "\t",
                     ri->input_path, ri->input_index, ri->offset, ri->length, ri->partition,
                     ri->partition_offset, ri->partition_length);
        if (n >= 0 && (size_t)n + len < t->cap) {
            break;
        }
        free(t->buf);
        t->cap = (size_t)n + len + 256;
        t->buf = malloc(t->cap);
        if (t->buf == NULL) {
            return t->host->error(ctx, "out of memory");
        }
    }
    memcpy(t->buf + n, data, len);
    return t->host->emit(ctx, t->buf, (size_t)n + len);
}

static int
tagger_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    return emit_tagged(state, ctx, data, len);
}

static int
tagger_begin(void *state, tranche_ctx *ctx)
{
    struct tagger *t = state;

    return t->frame ? emit_tagged(t, ctx, "BEGIN", 5) : TRANCHE_OK;
}

static int
tagger_end(void *state, tranche_ctx *ctx)
{
    struct tagger *t = state;

    return t->frame ? emit_tagged(t, ctx, "END", 3) : TRANCHE_OK;
}

static void
tagger_fini(void *state)
{
    struct tagger *t = state;

    free(t->buf);
    free(t);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "tagger",
    .version = "1.0",
    .description = "test fixture: tags each record with its file, offset and partition",
    .options = tagger_options,
    .init = tagger_init,
    .record = tagger_record,
    .end_partition = tagger_end,
    .fini = tagger_fini,
    .begin_partition = tagger_begin,
};
