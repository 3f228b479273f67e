/* tests/plugins/badtable.c: option tables the loader must refuse at load, one per BADTABLE_CASE
 * (built once per case as badtable_CASE.so): a name twice, an unknown type, a required option
 * with a default, and defaults that do not parse. */
#include <stddef.h>
#include <tranche/plugin.h>

static const struct tranche_option badtable_options[] = {
    {"fine", TRANCHE_OPT_LIST, "a,b", 0, "a valid option first"},
#if BADTABLE_CASE == 1
    {"fine", TRANCHE_OPT_STRING, NULL, 0, "the same name again"},
#elif BADTABLE_CASE == 2
    {"kind", 9, NULL, 0, "no such type"},
#elif BADTABLE_CASE == 3
    {"needed", TRANCHE_OPT_STRING, "x", 1, "required, with a default"},
#elif BADTABLE_CASE == 4
    {"count", TRANCHE_OPT_INT, "12x", 0, "a default that is no integer"},
#elif BADTABLE_CASE == 5
    {"count", TRANCHE_OPT_INT, "99999999999999999999", 0, "a default out of range"},
#elif BADTABLE_CASE == 6
    {"flag", TRANCHE_OPT_BOOL, "maybe", 0, "a default that is no boolean"},
#endif
    {NULL, 0, NULL, 0, NULL},
};

static int
badtable_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    (void)state;
    (void)ctx;
    (void)data;
    (void)len;
    return TRANCHE_ERROR;
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "badtable",
    .version = "1.0",
    .description = "test fixture: a bad option table",
    .options = badtable_options,
    .record = badtable_record,
};
