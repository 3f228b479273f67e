/* core/grow.c: doubling growth for arrays and buffers. */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

#define GROW_FIRST 16 /* elements, when an array starts empty */

void *
grow_realloc(void *array, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap > 0 ? *cap : GROW_FIRST;
    void *grown;

    while (n < need) {
        if (n > SIZE_MAX / 2) {
            return NULL;
        }
        n *= 2;
    }
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    grown = realloc(array, n * size);
    if (grown == NULL) {
        return NULL;
    }
    *cap = n;
    return grown;
}
