/* core/dupes.c: the first duplicate in an array (see dupes.h). */
#include "dupes.h"

#include <stdlib.h>

/* By key, then by place in the array, so that each run of equal elements is in the array's
 * order and its first element is the earliest. */
struct key {
    dupes_compare_fn compare;
};

static int
by_key_then_place(const void *a, const void *b, void *arg)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int by_key = ((const struct key *)arg)->compare(x, y);

    if (by_key != 0) {
        return by_key;
    }
    return x < y ? -1 : x > y;
}

int
dupes_find(const void *base, size_t n, size_t size, dupes_compare_fn compare, int *found,
           size_t *first, size_t *dup)
{
    const char **v = malloc((n > 0 ? n : 1) * sizeof(*v));
    const char *d = NULL, *f = NULL;
    struct key key = {compare};
    size_t i, run = 0;

    if (v == NULL) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        v[i] = (const char *)base + i * size;
    }
    qsort_r(v, n, sizeof(*v), by_key_then_place, &key);
    for (i = 1; i < n; i++) {
        if (compare(v[i], v[i - 1]) != 0) {
            run = i;
        } else if (d == NULL || v[i] < d) {
            d = v[i];
            f = v[run];
        }
    }
    free(v);
    *found = d != NULL;
    if (d != NULL) {
        *first = (size_t)(f - (const char *)base) / size;
        *dup = (size_t)(d - (const char *)base) / size;
    }
    return 0;
}
