/* plugins/fastq-trim/fastq-trim.c: the `fastq-trim` plugin, which cuts each FASTQ read's sequence
 * and quality to at most `length` bases, keeping the first ones (it trims the 3' end), and drops
 * the reads left shorter than `min_length`. The @ and + lines pass unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tranche/plugin.h>

#include "../common/fastq.h"
#include "../common/opterr.h"

#define PLUGIN_NAME "fastq-trim"

struct trim_state {
    uint64_t length;
    uint64_t min_length;
};

static const struct tranche_host *host;

static const struct tranche_option trim_options[] = {
    {"length", TRANCHE_OPT_INT, NULL, 1,
     "keep at most this many bases of each read, the first ones (trims the 3' end)"},
    {"min_length", TRANCHE_OPT_INT, "0", 0, "drop reads shorter than this after trimming"},
    {NULL, 0, NULL, 0, NULL},
};

static void
trim_fini(void *state)
{
    free(state);
}

static int
read_options(struct trim_state *s, tranche_ctx *ctx)
{
    int64_t length = host->opt_int(ctx, "length");
    int64_t min_length = host->opt_int(ctx, "min_length");

    if (length < 1) {
        return PLUGIN_OPTION_ERROR(host, ctx, "length", "length must be 1 or more, got %lld",
                                   (long long)length);
    }
    if (min_length < 0) {
        return PLUGIN_OPTION_ERROR(host, ctx, "min_length",
                                   "min_length must be 0 or more, got %lld", (long long)min_length);
    }
    if (min_length > length) {
        return PLUGIN_OPTION_ERROR(host, ctx, "min_length",
                                   "min_length %lld is above length %lld: every read would be "
                                   "dropped",
                                   (long long)min_length, (long long)length);
    }
    s->length = (uint64_t)length;
    s->min_length = (uint64_t)min_length;
    return TRANCHE_OK;
}

static int
trim_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    struct trim_state *s;

    host = h;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    if (read_options(s, ctx) != TRANCHE_OK ||
        fastq_require_format(host, ctx, PLUGIN_NAME) != TRANCHE_OK) {
        /* A failed init gets no fini(), so it releases what it holds itself. */
        trim_fini(s);
        return TRANCHE_ERROR;
    }
    *state = s;
    return TRANCHE_OK;
}

static int
trim_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    const struct trim_state *s = state;
    struct fastq_read r;
    size_t keep;
    char *p;

    if (fastq_split(host, ctx, data, len, &r) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    keep = r.seq_len < s->length ? r.seq_len : (size_t)s->length;
    if (keep < s->min_length) {
        return TRANCHE_OK;
    }
    if (keep == r.seq_len) {
        return host->emit(ctx, data, len);
    }
    /* In place: the record is ours to change until record() returns. The later lines move left
     * over the cut part of the sequence; memmove, as the ranges overlap. */
    p = r.seq + keep;
    *p++ = '\n';
    memmove(p, r.plus, r.plus_len);
    p += r.plus_len;
    *p++ = '\n';
    memmove(p, r.qual, keep);
    p += keep;
    return host->emit(ctx, data, (size_t)(p - data));
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = PLUGIN_NAME,
    .version = "1.0",
    .description = "trims FASTQ reads to their first N bases, dropping those left too short",
    .options = trim_options,
    .init = trim_init,
    .record = trim_record,
    .fini = trim_fini,
};
