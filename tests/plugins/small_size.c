/* tests/plugins/small_size.c: a fixture whose descriptor claims to be 8 bytes long, too short to
 * hold even the fields of ABI 1.0, as a corrupt or truncated descriptor would. */
#include <tranche/plugin.h>

static int
small_size_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    (void)state;
    (void)ctx;
    (void)data;
    (void)len;
    return TRANCHE_ERROR;
}

TRANCHE_PLUGIN = {
    .abi_major = TRANCHE_ABI_MAJOR,
    .abi_minor = TRANCHE_ABI_MINOR,
    .size = 8,
    .name = "small_size",
    .version = "1.0",
    .description = "test fixture: a descriptor whose size field is too small",
    .record = small_size_record,
};
