/*
 * tests/plugins/tally.c: the smallest aggregator (ABI 1.2), a fixture for the core's aggregate
 * stage. Map: counts a partition's records and bytes and emits them at end_partition as one
 * binary partial (two uint64_t, which may hold any byte: the framing must carry them). Combine:
 * sums the partials, writes each to a file in host->temp_dir() (so that the tests see the
 * directory made and removed), and emits "records=R bytes=B partials=P phase=1 memory=M".
 * Option `fail_combine`: combine() fails at that partial (1-based), `crash_combine`: it crashes
 * there, `stall_combine`: the first combine() creates that file and then waits to be killed.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tranche/plugin.h>

struct tally {
    uint64_t records, bytes, partials;
    int64_t fail_at, crash_at;
    const char *stall;
    int phase;
};

static const struct tranche_host *host;

static const struct tranche_option tally_options[] = {
    {"fail_combine", TRANCHE_OPT_INT, "0", 0, "fail combine() at this partial (1-based)"},
    {"crash_combine", TRANCHE_OPT_INT, "0", 0, "crash in combine() at this partial"},
    {"stall_combine", TRANCHE_OPT_STRING, NULL, 0, "create this file in combine(), then hang"},
    {NULL, 0, NULL, 0, NULL},
};

static int
tally_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    struct tally *t = calloc(1, sizeof(*t));

    host = h;
    if (t == NULL) {
        return host->error(ctx, "out of memory");
    }
    t->fail_at = host->opt_int(ctx, "fail_combine");
    t->crash_at = host->opt_int(ctx, "crash_combine");
    t->stall = host->opt_string(ctx, "stall_combine");
    t->phase = host->phase(ctx);
    *state = t;
    /* (a directory from init() on, in both phases; none in the option check) */
    if ((host->temp_dir(ctx) == NULL) != (host->is_option_check(ctx) != 0)) {
        free(t);
        return host->error(ctx, "temp_dir() is %s in init()",
                           host->is_option_check(ctx) ? "set" : "NULL");
    }
    return TRANCHE_OK;
}

static int
tally_begin(void *state, tranche_ctx *ctx)
{
    struct tally *t = state;

    (void)ctx;
    t->records = t->bytes = 0;
    return TRANCHE_OK;
}

static int
tally_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct tally *t = state;

    (void)ctx;
    (void)data;
    t->records++;
    t->bytes += len;
    return TRANCHE_OK;
}

static int
tally_end(void *state, tranche_ctx *ctx)
{
    struct tally *t = state;
    uint64_t partial[2] = {t->records, t->bytes};

    return host->emit(ctx, partial, sizeof(partial));
}

static int
tally_combine(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct tally *t = state;
    uint64_t partial[2];
    char path[4096];
    const char *dir = host->temp_dir(ctx);
    FILE *f;

    if (len != sizeof(partial) || data[len] != '\0') {
        return host->error(ctx, "a partial of %zu bytes (expected %zu)", len, sizeof(partial));
    }
    t->partials++;
    if ((int64_t)t->partials == t->fail_at) {
        return host->error(ctx, "failing at partial %llu, as asked",
                           (unsigned long long)t->partials);
    }
    if ((int64_t)t->partials == t->crash_at) {
        raise(SIGSEGV);
    }
    if (t->stall != NULL) {
        f = fopen(t->stall, "w");
        if (f != NULL) {
            fclose(f);
        }
        for (;;) {
            pause();
        }
    }
    memcpy(partial, data, sizeof(partial));
    t->records += partial[0];
    t->bytes += partial[1];
    if (dir == NULL) {
        return host->error(ctx, "no temp_dir in the combine phase");
    }
    snprintf(path, sizeof(path), "%s/partial-%llu", dir, (unsigned long long)t->partials);
    f = fopen(path, "w");
    if (f == NULL || fclose(f) != 0) {
        return host->error(ctx, "cannot write %s", path);
    }
    return TRANCHE_OK;
}

static int
tally_combine_end(void *state, tranche_ctx *ctx)
{
    struct tally *t = state;
    char line[256];
    int n = snprintf(
        line, sizeof(line), "records=%llu bytes=%llu partials=%llu phase=%d memory=%llu",
        (unsigned long long)t->records, (unsigned long long)t->bytes,
        (unsigned long long)t->partials, t->phase, (unsigned long long)host->memory_limit(ctx));

    return host->emit(ctx, line, (size_t)n);
}

static void
tally_fini(void *state)
{
    free(state);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,       .name = "tally",
    .version = "1.0",         .description = "counts records and bytes (a test aggregator)",
    .options = tally_options, .init = tally_init,
    .record = tally_record,   .end_partition = tally_end,
    .fini = tally_fini,       .begin_partition = tally_begin,
    .combine = tally_combine, .combine_end = tally_combine_end,
};
