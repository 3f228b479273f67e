/* tests/plugins/no_abi.c: a descriptor written without TRANCHE_PLUGIN_ABI (abi_major, abi_minor
 * and size are 0): the loader says to add it. */
#include <tranche/plugin.h>

static int
no_abi_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    (void)state;
    (void)ctx;
    (void)data;
    (void)len;
    return TRANCHE_ERROR;
}

TRANCHE_PLUGIN = {
    .name = "no_abi",
    .version = "1.0",
    .description = "test fixture: no TRANCHE_PLUGIN_ABI",
    .record = no_abi_record,
};
