/*
 * tests/plugins/nulcheck.c: fails the job unless data[len] is '\0' for every record it gets, then
 * changes the record in place (a-z to A-Z, as `tr a-z A-Z`) and emits it: the record is writable
 * and NUL-terminated at every step of a chain.
 */
#include <inttypes.h>
#include <tranche/plugin.h>

struct nulcheck {
    const struct tranche_host *host;
    uint64_t seen;
};

static struct nulcheck the_state;

static int
nulcheck_init(tranche_ctx *ctx, const struct tranche_host *host, void **state)
{
    (void)ctx;
    the_state.host = host;
    *state = &the_state;
    return TRANCHE_OK;
}

static int
nulcheck_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct nulcheck *n = state;
    size_t i;

    n->seen++;
    if (data[len] != '\0') {
        return n->host->error(ctx, "data[len] is 0x%02x, not NUL (record %" PRIu64 " of %zu bytes)",
                              (unsigned char)data[len], n->seen, len);
    }
    for (i = 0; i < len; i++) {
        if (data[i] >= 'a' && data[i] <= 'z') {
            data[i] = (char)(data[i] - 'a' + 'A');
        }
    }
    return n->host->emit(ctx, data, len);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "nulcheck",
    .version = "1.0",
    .description = "test fixture: asserts data[len] == NUL, upper-cases in place",
    .init = nulcheck_init,
    .record = nulcheck_record,
};
