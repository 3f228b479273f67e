/* tests/plugins/summary.c: a pass-through fixture that emits one more record, "records=N", at the
 * end of each partition, N being how many records that partition had; it tests end_partition. */
#include <stdio.h>
#include <stdlib.h>

#include <tranche/plugin.h>

struct summary_state {
    unsigned long long records;
};

static const struct tranche_host *host;

static int
summary_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    host = h;
    *state = calloc(1, sizeof(struct summary_state));
    if (*state == NULL) {
        return host->error(ctx, "out of memory");
    }
    return TRANCHE_OK;
}

static int
summary_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct summary_state *s = state;

    s->records++;
    return host->emit(ctx, data, len);
}

static int
summary_end_partition(void *state, tranche_ctx *ctx)
{
    struct summary_state *s = state;
    char line[64];
    int len = snprintf(line, sizeof(line), "records=%llu", s->records);

    /* A worker's partitions are not contiguous, so each one counts from zero. */
    s->records = 0;
    return host->emit(ctx, line, (size_t)len);
}

static void
summary_fini(void *state)
{
    free(state);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "summary",
    .version = "1.0",
    .description = "test fixture: passes records through and counts each partition's records",
    .init = summary_init,
    .record = summary_record,
    .end_partition = summary_end_partition,
    .fini = summary_fini,
};
