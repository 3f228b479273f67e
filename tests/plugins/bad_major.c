/* tests/plugins/bad_major.c: a fixture built for the next ABI major, which the loader must refuse
 * before it calls anything. The ABI fields are written by hand instead of TRANCHE_PLUGIN_ABI. */
#include <tranche/plugin.h>

static int
bad_major_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    (void)state;
    (void)ctx;
    (void)data;
    (void)len;
    return TRANCHE_ERROR;
}

TRANCHE_PLUGIN = {
    .abi_major = TRANCHE_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = (uint32_t)sizeof(struct tranche_plugin),
    .name = "bad_major",
    .version = "1.0",
    .description = "test fixture: built for an ABI major this host does not speak",
    .record = bad_major_record,
};
