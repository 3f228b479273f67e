/*
 * tests/plugins/checker.c: init() tells the parent's option check from a worker's start
 * (host->is_option_check) and appends "check" or "worker" to the file `marker`. It rejects the
 * value "bad" of `pattern` with option_error(), an item "bad" of `items` with
 * option_item_error(), and the value of `pattern` that `forbid` names (its default "ok", say,
 * which is then reported at the step). Each record is emitted as RECORD|ITEMS, the items joined
 * by commas (the default of the LIST option `items` has three).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tranche/plugin.h>

struct checker {
    const struct tranche_host *host;
    char joined[256];
};

static const struct tranche_option checker_options[] = {
    {"pattern", TRANCHE_OPT_STRING, "ok", 0, "rejected by init when it is 'bad'"},
    {"items", TRANCHE_OPT_LIST, "x,y,z", 0, "an item 'bad' is rejected by init"},
    {"marker", TRANCHE_OPT_STRING, NULL, 0, "a file to append 'check' or 'worker' to"},
    {"forbid", TRANCHE_OPT_STRING, NULL, 0, "a value of pattern init() rejects too"},
    {NULL, 0, NULL, 0, NULL},
};

static int
checker_init(tranche_ctx *ctx, const struct tranche_host *host, void **state)
{
    const char *marker = host->opt_string(ctx, "marker"), *forbid;
    struct checker *c;
    size_t i, used = 0;
    FILE *f;

    if (marker != NULL && (f = fopen(marker, "a")) != NULL) {
        fprintf(f, "%s\n", host->is_option_check(ctx) ? "check" : "worker");
        fclose(f);
    }
    if (strcmp(host->opt_string(ctx, "pattern"), "bad") == 0) {
        return host->option_error(ctx, "pattern", "'bad' is not a pattern this plugin takes");
    }
    forbid = host->opt_string(ctx, "forbid");
    if (forbid != NULL && strcmp(host->opt_string(ctx, "pattern"), forbid) == 0) {
        return host->option_error(ctx, "pattern", "'%s' is forbidden", forbid);
    }
    for (i = 0; i < host->opt_list_len(ctx, "items"); i++) {
        if (strcmp(host->opt_list_item(ctx, "items", i), "bad") == 0) {
            return host->option_item_error(ctx, "items", i, "'bad' is not an item");
        }
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return host->error(ctx, "out of memory");
    }
    c->host = host;
    for (i = 0; i < host->opt_list_len(ctx, "items"); i++) {
        used += (size_t)snprintf(c->joined + used, sizeof(c->joined) - used, "%s%s",
                                 i > 0 ? "," : "", host->opt_list_item(ctx, "items", i));
    }
    *state = c;
    return TRANCHE_OK;
}

static int
checker_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct checker *c = state;
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%.*s|%s", (int)len, data, c->joined);

    return c->host->emit(ctx, buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void
checker_fini(void *state)
{
    free(state);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "checker",
    .version = "1.0",
    .description = "test fixture: option check or worker, and option values rejected by init",
    .options = checker_options,
    .init = checker_init,
    .record = checker_record,
    .fini = checker_fini,
};
