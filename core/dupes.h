/*
 * core/dupes.h: the first duplicate in an array, found by sorting (n log n), not by comparing
 * every pair: a job file may hold many thousand options, a glob many thousand files.
 */
#ifndef TRANCHE_DUPES_H
#define TRANCHE_DUPES_H

#include <stddef.h>

/* Orders two elements by the key that makes them duplicates: <0, 0 (the same), >0. */
typedef int (*dupes_compare_fn)(const void *a, const void *b);

/*
 * Among the n elements of `size` bytes at base, finds the first one, in the array's order, that
 * is the same as an earlier one, and the first element of that kind. Returns 0 with *found set
 * (and then *first < *dup, indices into base), or -1 when out of memory.
 */
int dupes_find(const void *base, size_t n, size_t size, dupes_compare_fn compare, int *found,
               size_t *first, size_t *dup);

#endif
