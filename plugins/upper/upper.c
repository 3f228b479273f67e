/* plugins/upper/upper.c: the `upper` plugin, which maps ASCII a-z to A-Z in place and emits the
 * record; every other byte passes unchanged, as with `LC_ALL=C tr a-z A-Z`. */
#include <string.h>

#include <tranche/plugin.h>

/*
 * GCC 12 at -O2 does not vectorise the plain byte loop (its cheap cost model refuses loops that
 * need a scalar epilogue, and SSE has no byte shift), so the bulk goes through explicit vector
 * types, which GCC and Clang both lower to SIMD at any optimisation level. memcpy keeps the
 * loads and stores free of alignment and aliasing assumptions and compiles to plain moves.
 */
typedef unsigned char bytes16 __attribute__((vector_size(16)));
typedef signed char mask16 __attribute__((vector_size(16)));

static const struct tranche_host *host;

static unsigned char
upper_byte(unsigned char c)
{
    /* (c - 'a') wraps to a large value for bytes below 'a', so one compare covers both ends. */
    return (unsigned char)(c ^ ((unsigned char)(c - 'a') < 26 ? 0x20 : 0));
}

static bytes16
upper_block(bytes16 v)
{
    /* A vector compare yields all-ones lanes where true; keep bit 5 of those and flip it. */
    mask16 lower = (v - (unsigned char)'a') < (unsigned char)26;

    return v ^ ((bytes16)lower & (unsigned char)0x20);
}

static void
upper_buffer(unsigned char *p, size_t len)
{
    size_t i = 0;

    for (; i + 64 <= len; i += 64) {
        bytes16 a, b, c, d;

        memcpy(&a, p + i, 16);
        memcpy(&b, p + i + 16, 16);
        memcpy(&c, p + i + 32, 16);
        memcpy(&d, p + i + 48, 16);
        a = upper_block(a);
        b = upper_block(b);
        c = upper_block(c);
        d = upper_block(d);
        memcpy(p + i, &a, 16);
        memcpy(p + i + 16, &b, 16);
        memcpy(p + i + 32, &c, 16);
        memcpy(p + i + 48, &d, 16);
    }
    for (; i + 16 <= len; i += 16) {
        bytes16 a;

        memcpy(&a, p + i, 16);
        a = upper_block(a);
        memcpy(p + i, &a, 16);
    }
    for (; i < len; i++) {
        p[i] = upper_byte(p[i]);
    }
}

static int
upper_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    (void)ctx;
    (void)state;
    host = h;
    return TRANCHE_OK;
}

static int
upper_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    (void)state;
    upper_buffer((unsigned char *)data, len);
    return host->emit(ctx, data, len);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI, .name = "upper",
    .version = "1.0",   .description = "converts ASCII a-z to A-Z, like LC_ALL=C tr a-z A-Z",
    .init = upper_init, .record = upper_record,
};
