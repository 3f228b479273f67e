/*
 * tests/support/failmalloc.c: an LD_PRELOAD library that fails one allocation, SQLite-style
 * fault injection: with FAILMALLOC_AT=N, the Nth call to malloc, calloc or realloc in the
 * process (counted from its start; a forked child goes on counting from its parent's count)
 * returns NULL. With FAILMALLOC_COUNT=PATH, the process appends how many calls it made to PATH
 * when it exits normally (a forked child that _exit()s does not).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static long calls;
static long fail_at = -1;

static int
failing(void)
{
    return ++calls == fail_at;
}

void *
malloc(size_t size)
{
    return failing() ? NULL : __libc_malloc(size);
}

void *
calloc(size_t n, size_t size)
{
    return failing() ? NULL : __libc_calloc(n, size);
}

void *
realloc(void *p, size_t size)
{
    return failing() ? NULL : __libc_realloc(p, size);
}

static void
report(void)
{
    const char *path = getenv("FAILMALLOC_COUNT");
    FILE *f;

    if (path != NULL && (f = fopen(path, "a")) != NULL) {
        fprintf(f, "%ld\n", calls);
        fclose(f);
    }
}

__attribute__((constructor)) static void
start(void)
{
    const char *at = getenv("FAILMALLOC_AT");

    fail_at = at != NULL ? atol(at) : -1;
    calls = 0; /* (what the dynamic loader allocated before this ran does not count) */
    atexit(report);
}
