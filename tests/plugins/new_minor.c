/* tests/plugins/new_minor.c: a fixture that claims a newer ABI minor than the host's, which the
 * loader must refuse: the plugin may rely on host functions this host lacks. */
#include <tranche/plugin.h>

static int
new_minor_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    (void)state;
    (void)ctx;
    (void)data;
    (void)len;
    return TRANCHE_ERROR;
}

TRANCHE_PLUGIN = {
    .abi_major = TRANCHE_ABI_MAJOR,
    .abi_minor = TRANCHE_ABI_MINOR + 1,
    .size = (uint32_t)sizeof(struct tranche_plugin),
    .name = "new_minor",
    .version = "1.0",
    .description = "test fixture: built for a newer ABI minor than this host",
    .record = new_minor_record,
};
