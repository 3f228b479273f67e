/* longest.c: an aggregator that keeps the longest record of each key (its first tab-separated
 * field), ties to the bytewise smallest, so that the result is the same for any partitioning. Built
 * and run by tests/e2e/test_count.c, and shown whole in README.md (kept compact for that: no
 * clang-format). */
// clang-format off
#define _GNU_SOURCE /* tdestroy */
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <tranche/plugin.h>

struct rec { size_t len; char data[]; };
static const struct tranche_host *host;
static void *tree; /* struct rec *, by key: twalk() visits them in order */
static tranche_ctx *out;
static int failed;

static size_t key_len(const struct rec *r) {
    const char *tab = memchr(r->data, '\t', r->len);
    return tab != NULL ? (size_t)(tab - r->data) : r->len;
}
static int by_key(const void *a, const void *b) {
    const struct rec *x = a, *y = b;
    size_t n = key_len(x), m = key_len(y);
    int c = memcmp(x->data, y->data, n < m ? n : m);
    return c != 0 ? c : (n > m) - (n < m);
}
static int init(tranche_ctx *ctx, const struct tranche_host *h, void **state) {
    (void)ctx, (void)state, host = h;
    return TRANCHE_OK;
}
/* record() in the map phase and combine() alike: a partial is a record, the key's longest. */
static int fold(void *state, tranche_ctx *ctx, char *data, size_t len) {
    struct rec *r = malloc(sizeof(*r) + len), **slot = NULL;
    if (r != NULL) {
        r->len = len, memcpy(r->data, data, len), slot = tsearch(r, &tree, by_key);
    }
    if (slot == NULL) {
        return free(r), host->error(ctx, "out of memory");
    }
    (void)state;
    if (*slot != r && (len > (*slot)->len ||
                       (len == (*slot)->len && memcmp(data, (*slot)->data, len) < 0))) {
        struct rec *old = *slot;
        *slot = r, r = old; /* the same key: the tree's order holds */
    }
    if (*slot != r) {
        free(r); /* the one that lost */
    }
    return TRANCHE_OK;
}
static void emit_in_order(const void *node, VISIT visit, int depth) {
    const struct rec *r = *(struct rec *const *)node;
    if ((visit == postorder || visit == leaf) && !failed) { /* between the two subtrees */
        failed = host->emit(out, r->data, r->len) != TRANCHE_OK;
    }
    (void)depth;
}
static void clear(void *state) { (void)state, tdestroy(tree, free), tree = NULL; }
static int begin(void *state, tranche_ctx *ctx) { return (void)ctx, clear(state), TRANCHE_OK; }
static int flush(void *state, tranche_ctx *ctx) {
    out = ctx, failed = 0, twalk(tree, emit_in_order), clear(state);
    return failed ? TRANCHE_ERROR : TRANCHE_OK;
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI, .name = "longest", .version = "1.0",
    .description = "the longest record per key (its first tab-separated field)",
    .init = init, .record = fold, .end_partition = flush, .fini = clear,
    .begin_partition = begin, .combine = fold, .combine_end = flush,
};
