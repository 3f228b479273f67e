/* plugins/sample/sample.c: the `sample` plugin, which keeps a deterministic subset of the records:
 * a seeded fraction, decided by a hash of each record's bytes (the same output for any worker
 * count and any partition size), or every Nth record of each partition. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tranche/plugin.h>

#include "../common/opterr.h"

/* The hash's constants (splitmix64's); README.md gives the whole function, for other tools. */
#define MIX_LEN 0x9e3779b97f4a7c15ULL
#define MIX_1 0xbf58476d1ce4e5b9ULL
#define MIX_2 0x94d049bb133111ebULL

struct sample_state {
    int64_t every;      /* > 0: keep record 1, 1+every, ... of each partition */
    uint64_t seen;      /* records of this partition so far */
    uint64_t seed;      /* fraction mode: */
    uint64_t threshold; /* keep a record whose hash is below this */
    int keep_all;       /* fraction 1 */
};

static const struct tranche_host *host;

static const struct tranche_option sample_options[] = {
    {"fraction", TRANCHE_OPT_STRING, NULL, 0,
     "keep about this fraction of the records (0 to 1), chosen by a seeded hash of each record"},
    {"seed", TRANCHE_OPT_INT, "0", 0, "the hash's seed: another seed, another subset"},
    {"every", TRANCHE_OPT_INT, NULL, 0,
     "keep the 1st, (N+1)th, (2N+1)th ... record of each partition instead"},
    {NULL, 0, NULL, 0, NULL},
};

/* Eight bytes as a little-endian number, whatever the machine's order. */
static uint64_t
load_le64(const unsigned char *p)
{
    uint64_t w;

    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* The record's hash: its 8-byte words (the last one padded with zeros) folded in one at a time,
 * then splitmix64's finaliser. Nothing but the bytes and the seed goes in. */
static uint64_t
record_hash(uint64_t seed, const unsigned char *p, size_t len)
{
    uint64_t h = seed ^ ((uint64_t)len * MIX_LEN);
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        h = (h ^ load_le64(p + i)) * MIX_1;
        h ^= h >> 31;
    }
    if (i < len) {
        unsigned char tail[8] = {0};

        memcpy(tail, p + i, len - i);
        h = (h ^ load_le64(tail)) * MIX_1;
        h ^= h >> 31;
    }
    h ^= h >> 30;
    h *= MIX_1;
    h ^= h >> 27;
    h *= MIX_2;
    h ^= h >> 31;
    return h;
}

static void
sample_fini(void *state)
{
    free(state);
}

/* Reads `fraction` into s; reports and returns TRANCHE_ERROR when it is not a number in [0, 1]. */
static int
parse_fraction(struct sample_state *s, tranche_ctx *ctx, const char *text)
{
    char *end;
    double f = strtod(text, &end);

    if (end == text || *end != '\0' || !isfinite(f) || f < 0 || f > 1) {
        return PLUGIN_OPTION_ERROR(host, ctx, "fraction",
                                   "fraction must be a number from 0 to 1 (0.1 keeps about 10%%), "
                                   "got '%s'",
                                   text);
    }
    s->keep_all = f == 1;
    /* f < 1, so f * 2^64 < 2^64: exact scaling by a power of two, then truncation */
    s->threshold = s->keep_all ? 0 : (uint64_t)(f * 18446744073709551616.0);
    return TRANCHE_OK;
}

static int
sample_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    struct sample_state *s;
    const char *fraction;

    host = h;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    fraction = host->opt_string(ctx, "fraction");
    s->every = host->opt_int(ctx, "every");
    s->seed = (uint64_t)host->opt_int(ctx, "seed");
    if ((fraction != NULL) == (s->every != 0)) {
        host->error(ctx, "give one of 'fraction' (a seeded share of the records) or 'every' "
                         "(every Nth record of each partition, N >= 1)");
        goto fail;
    }
    if (fraction == NULL && s->every < 0) {
        PLUGIN_OPTION_ERROR(host, ctx, "every", "every must be 1 or more, got %lld",
                            (long long)s->every);
        goto fail;
    }
    if (fraction != NULL && parse_fraction(s, ctx, fraction) != TRANCHE_OK) {
        goto fail;
    }
    *state = s;
    return TRANCHE_OK;
fail:
    /* A failed init gets no fini(), so it releases what it holds itself. */
    sample_fini(s);
    return TRANCHE_ERROR;
}

static int
sample_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct sample_state *s = state;
    int keep;

    if (s->every > 0) {
        keep = s->seen % (uint64_t)s->every == 0;
        s->seen++;
    } else {
        keep = s->keep_all || record_hash(s->seed, (const unsigned char *)data, len) < s->threshold;
    }
    return keep ? host->emit(ctx, data, len) : TRANCHE_OK;
}

/* Counting starts again with each partition: a worker's partitions are not contiguous. */
static int
sample_end_partition(void *state, tranche_ctx *ctx)
{
    struct sample_state *s = state;

    (void)ctx;
    s->seen = 0;
    return TRANCHE_OK;
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "sample",
    .version = "1.0",
    .description = "keeps a seeded fraction of the records (by a hash of each), or every Nth",
    .options = sample_options,
    .init = sample_init,
    .record = sample_record,
    .end_partition = sample_end_partition,
    .fini = sample_fini,
};
