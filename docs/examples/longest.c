/* longest.c: an aggregator that keeps the longest record of each key (its first tab-separated
 * field; of two as long, the bytewise smaller), so that the result is the same for any
 * partitioning. Built and run by tests/e2e/test_count.c, and shown whole in README.md. */
// clang-format off
#define _GNU_SOURCE /* tdestroy */
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <tranche/plugin.h>

struct rec { size_t key_len, len; char data[]; };

static const struct tranche_host *host;
static void *tree;              /* the longest record of each key so far, in key order */
static tranche_ctx *emit_to;    /* for visit(), which twalk() calls */
static int emit_failed;

static int by_key(const void *a, const void *b) {
    const struct rec *x = a, *y = b;
    int c = memcmp(x->data, y->data, x->key_len < y->key_len ? x->key_len : y->key_len);
    return c != 0 ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static int init(tranche_ctx *ctx, const struct tranche_host *h, void **state) {
    (void)ctx; (void)state;
    host = h;
    return TRANCHE_OK;
}

/* record() in the map phase and combine() alike: a partial is a record, its key's longest. */
static int fold(void *state, tranche_ctx *ctx, char *data, size_t len) {
    const char *tab = memchr(data, '\t', len);
    struct rec *r = malloc(sizeof(*r) + len), **slot;
    (void)state;
    if (r == NULL) return host->error(ctx, "out of memory");
    r->key_len = tab != NULL ? (size_t)(tab - data) : len;
    r->len = len;
    memcpy(r->data, data, len);
    if ((slot = tsearch(r, &tree, by_key)) == NULL) {
        free(r);
        return host->error(ctx, "out of memory");
    }
    if (*slot != r) {           /* the key was there: keep the longer, free the other */
        struct rec *old = *slot;
        if (len > old->len || (len == old->len && memcmp(data, old->data, len) < 0)) {
            *slot = r;
            r = old;
        }
        free(r);
    }
    return TRANCHE_OK;
}

static void visit(const void *node, VISIT v, int depth) {
    const struct rec *r = *(struct rec *const *)node;
    (void)depth;
    if ((v == postorder || v == leaf) && !emit_failed) /* in order: between the subtrees */
        emit_failed = host->emit(emit_to, r->data, r->len) != TRANCHE_OK;
}

static void clear(void *state) { (void)state; tdestroy(tree, free); tree = NULL; }
static int begin(void *state, tranche_ctx *ctx) { (void)ctx; clear(state); return TRANCHE_OK; }

/* end_partition() emits the partial, combine_end() the output: the tree in key order. */
static int flush(void *state, tranche_ctx *ctx) {
    emit_to = ctx;
    emit_failed = 0;
    twalk(tree, visit);
    clear(state);
    return emit_failed ? TRANCHE_ERROR : TRANCHE_OK;
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI, .name = "longest", .version = "1.0",
    .description = "the longest record per key (its first tab-separated field)",
    .init = init, .record = fold, .end_partition = flush, .fini = clear,
    .begin_partition = begin, .combine = fold, .combine_end = flush,
};
