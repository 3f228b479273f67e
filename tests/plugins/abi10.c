/*
 * tests/plugins/abi10.c: a plugin built against ABI 1.0 (the frozen header in abi-1.0/): its
 * descriptor has 1.0's size and minor 0. It reverses each record and ends each partition with a
 * record "records: N". Right after its descriptor in memory lies a pointer to a function that
 * fails the job, where a 1.1 descriptor has begin_partition: a host that read past the
 * descriptor's size would call it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <tranche/plugin.h>

#if TRANCHE_ABI_MINOR != 0
#error "abi10.c must be built against the ABI 1.0 header"
#endif

struct abi10 {
    const struct tranche_host *host;
    unsigned long records;
};

static int
abi10_init(tranche_ctx *ctx, const struct tranche_host *host, void **state)
{
    struct abi10 *a = calloc(1, sizeof(*a));

    if (a == NULL) {
        return host->error(ctx, "out of memory");
    }
    a->host = host;
    *state = a;
    return TRANCHE_OK;
}

static int
abi10_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct abi10 *a = state;
    size_t i;

    a->records++;
    for (i = 0; i < len / 2; i++) {
        char c = data[i];
        data[i] = data[len - 1 - i];
        data[len - 1 - i] = c;
    }
    return a->host->emit(ctx, data, len);
}

static int
abi10_end(void *state, tranche_ctx *ctx)
{
    struct abi10 *a = state;
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "records: %lu", a->records);

    a->records = 0;
    return a->host->emit(ctx, buf, (size_t)n);
}

static void
abi10_fini(void *state)
{
    free(state);
}

static int
trap(void *state, tranche_ctx *ctx)
{
    struct abi10 *a = state;

    return a->host->error(ctx, "the host called what lies past a 1.0 descriptor");
}

/* The descriptor, and the trap right after it (the symbol tranche_plugin names the first). */
static const struct {
    struct tranche_plugin desc;
    int (*after)(void *, tranche_ctx *);
} blob = {
    {
        TRANCHE_PLUGIN_ABI,
        .name = "abi10",
        .version = "1.0",
        .description = "test fixture: built against ABI 1.0",
        .init = abi10_init,
        .record = abi10_record,
        .end_partition = abi10_end,
        .fini = abi10_fini,
    },
    trap,
};

extern const struct tranche_plugin tranche_plugin
    __attribute__((alias("blob"), visibility("default")));
