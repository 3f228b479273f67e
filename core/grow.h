/*
 * core/grow.h: the one way an array grows in the core (git's ALLOC_GROW): its capacity doubles
 * until it holds what is needed, so appending n elements one by one costs O(n) copies.
 */
#ifndef TRANCHE_GROW_H
#define TRANCHE_GROW_H

#include <stddef.h>

/*
 * Returns `array` reallocated to hold at least `need` elements of `size` bytes (its contents
 * kept), and sets *cap to the new capacity; or NULL when out of memory (or the size overflows),
 * with `array` and *cap untouched.
 */
void *grow_realloc(void *array, size_t *cap, size_t need, size_t size);

/*
 * GROW(arr, cap, need): makes arr (a pointer variable, NULL when empty) hold at least `need`
 * elements, cap being its capacity in elements. Evaluates to 0, or -1 when out of memory (arr
 * and cap untouched then).
 */
#define GROW(arr, cap, need)                                                                       \
    __extension__({                                                                                \
        int grow_rc_ = 0;                                                                          \
        if ((size_t)(need) > (cap)) {                                                              \
            void *grow_p_ = grow_realloc((arr), &(cap), (size_t)(need), sizeof(*(arr)));           \
            if (grow_p_ != NULL) {                                                                 \
                (arr) = grow_p_;                                                                   \
            } else {                                                                               \
                grow_rc_ = -1;                                                                     \
            }                                                                                      \
        }                                                                                          \
        grow_rc_;                                                                                  \
    })

#endif
