/*
 * core/gzindex_build.h: building access-point indexes (gzindex.h) ahead of a run, for
 * `tranche index`: each file decoded once, several files at once by forked processes. A file
 * that fails fails alone; a stop signal (caught with signals.h) ends every process, and no
 * temporary index file is left behind.
 */
#ifndef TRANCHE_GZINDEX_BUILD_H
#define TRANCHE_GZINDEX_BUILD_H

#include <stdint.h>

/*
 * Indexes files[0, n) with points about `spacing` decompressed bytes apart, up to `jobs` files at
 * once, into the cache (or with `beside`, beside each file); says what it did on stdout and what
 * failed on stderr. Returns 0, or the worst result: ERR_INVALID (a file cannot be opened or is not
 * gzip) before ERR_FAILED (corrupt, cannot be written, interrupted). The caller catches the stop
 * signals first.
 */
int gzindex_build_files(char **files, int n, int jobs, uint64_t spacing, int beside);

#endif
