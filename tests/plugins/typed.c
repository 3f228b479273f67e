/* tests/plugins/typed.c: a pass-through fixture with one option of each type, for the option
 * validation tests; init() logs the values it was given, one line per option or list item. */
#include <inttypes.h>

#include <tranche/plugin.h>

static const struct tranche_host *host;

static const struct tranche_option typed_options[] = {
    {"count", TRANCHE_OPT_INT, NULL, 1, "an integer, required"},
    {"flag", TRANCHE_OPT_BOOL, "false", 0, "a boolean"},
    {"name", TRANCHE_OPT_STRING, "x", 0, "a string"},
    {"items", TRANCHE_OPT_LIST, NULL, 0, "a list of strings"},
    {NULL, 0, NULL, 0, NULL},
};

static int
typed_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    const char *name;
    size_t items;

    (void)state;
    host = h;
    name = host->opt_string(ctx, "name");
    items = host->opt_list_len(ctx, "items");
    host->log(ctx, TRANCHE_LOG_INFO, "typed: count=%" PRId64, host->opt_int(ctx, "count"));
    host->log(ctx, TRANCHE_LOG_INFO, "typed: flag=%s",
              host->opt_bool(ctx, "flag") ? "true" : "false");
    host->log(ctx, TRANCHE_LOG_INFO, "typed: name=%s", name != NULL ? name : "(null)");
    host->log(ctx, TRANCHE_LOG_INFO, "typed: items=%zu", items);
    for (size_t i = 0; i < items; i++) {
        const char *item = host->opt_list_item(ctx, "items", i);

        host->log(ctx, TRANCHE_LOG_INFO, "typed: items[%zu]=%s", i, item != NULL ? item : "(null)");
    }
    return TRANCHE_OK;
}

static int
typed_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    (void)state;
    return host->emit(ctx, data, len);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "typed",
    .version = "1.0",
    .description = "test fixture: passes records through and logs one option of each type",
    .options = typed_options,
    .init = typed_init,
    .record = typed_record,
};
