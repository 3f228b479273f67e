/*
 * core/fnv.h: FNV-1a, 64 bits, for the digests that tell one job or plan from another (resume's
 * manifest, the shard plan): cheap and stable across runs, not a defence against anyone.
 */
#ifndef TRANCHE_FNV_H
#define TRANCHE_FNV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FNV_START 0xcbf29ce484222325ull

static inline uint64_t
fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

/* A string with its NUL, so that "ab","c" and "a","bc" differ; NULL as "". */
static inline uint64_t
fnv_str(uint64_t h, const char *s)
{
    return fnv(h, s != NULL ? s : "", (s != NULL ? strlen(s) : 0) + 1);
}

static inline uint64_t
fnv_num(uint64_t h, uint64_t v)
{
    return fnv(h, &v, sizeof(v));
}

#endif
