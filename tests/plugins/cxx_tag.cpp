// tests/plugins/cxx_tag.cpp: a plugin in C++17, written as a plugin author would from the header
// alone: TRANCHE_PLUGIN unchanged, the {NULL, 0, NULL, 0, NULL} sentinel, std::string. Each
// record becomes "OFFSET:PREFIX" + the record upper-cased.
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <tranche/plugin.h>

namespace
{

struct state {
    const tranche_host *host;
    std::string prefix;
    std::string out;
};

const tranche_option options[] = {
    {"prefix", TRANCHE_OPT_STRING, "cxx:", 0, "put in front of each record"},
    {NULL, 0, NULL, 0, NULL},
};

int
init(tranche_ctx *ctx, const tranche_host *host, void **st)
{
    state *s = new state;
    s->host = host;
    s->prefix = host->opt_string(ctx, "prefix");
    *st = s;
    return TRANCHE_OK;
}

int
record(void *st, tranche_ctx *ctx, char *data, size_t len)
{
    state *s = static_cast<state *>(st);
    char num[32];

    std::snprintf(num, sizeof(num), "%" PRIu64 ":", s->host->record_info(ctx)->offset);
    s->out = num;
    s->out += s->prefix;
    for (size_t i = 0; i < len; i++) {
        s->out += static_cast<char>(std::toupper(static_cast<unsigned char>(data[i])));
    }
    return s->host->emit(ctx, s->out.data(), s->out.size());
}

void
fini(void *st)
{
    delete static_cast<state *>(st);
}

} // namespace

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI, .name = "cxx_tag",
    .version = "1.0",   .description = "test fixture: a C++ plugin",
    .options = options, .init = init,
    .record = record,   .fini = fini,
};
