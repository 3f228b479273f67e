// tests/plugins/cxx_no_extern.cpp: a C++ plugin that defines its descriptor as ABI 1.0's macro did,
// a const at namespace scope without extern "C": internal linkage, so it exports nothing. The
// loader says so, and points at extern "C" / TRANCHE_PLUGIN.
#include <string>
#include <tranche/plugin.h>

static int
record(void *st, tranche_ctx *ctx, char *data, size_t len)
{
    std::string *copy = new std::string(data, len);
    delete copy;
    (void)st;
    (void)ctx;
    return TRANCHE_ERROR;
}

__attribute__((visibility("default"))) const struct tranche_plugin tranche_plugin = {
    TRANCHE_PLUGIN_ABI, .name = "cxx_no_extern",
    .version = "1.0",   .description = "test fixture: a C++ descriptor without C linkage",
    .record = record,
};
