/*
 * core/gzindex.h: the access-point index of a gzip file that is not BGZF, so that a run can
 * start each worker at its own point and decode in parallel.
 *
 * The index is a file beside the gzip file (FILE.gz.tranche-index) or, where that directory is
 * not writable, in the cache directory ($TRANCHE_CACHE_DIR, else $XDG_CACHE_HOME/tranche, else
 * ~/.cache/tranche) under a name made from the file's absolute path. It records the file's size
 * and modification time, and an index whose file has changed is never used. Its table carries a
 * CRC-32, and each point the CRC-32 of its member's data so far, so a worker checks the data it
 * decodes against the index as it goes.
 *
 * Layout (little-endian): a 64-byte header (magic, version, the gzip file's size and mtime, the
 * spacing), the windows one after another, the table of points (48 bytes each), a 40-byte footer
 * (where the table is, how many points, the decompressed size, the CRC-32 of the header and
 * table, the CRC-32 of the windows, magic). A damaged index is never used.
 */
#ifndef TRANCHE_GZINDEX_H
#define TRANCHE_GZINDEX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "error.h"
#include "gzread.h"

#define GZ_INDEX_SPACING (4ull << 20) /* default decompressed bytes between access points */
#define GZ_INDEX_SUFFIX ".tranche-index"

struct gz_index {
    struct gz_point *points; /* points[0] is the start of the file */
    size_t n;
    uint64_t usize; /* the decompressed size of the whole file */
    uint64_t spacing;
    char *path;     /* the index file */
    struct stat st; /* the index file as loaded: gz_index_open() checks it is still that file */
};

/*
 * Loads the index of the gzip file gz_path, whose stat is *st: beside it, else in the cache.
 * Returns 0 with *found = 1 when a current index was loaded into idx (free with
 * gz_index_release); 0 with *found = 0 and idx empty when there is none that can be used (note,
 * when not NULL, says why if one was found but was stale or damaged: a caller may print it; it
 * is "" otherwise); or -1 on failure (memory), with err set and idx empty.
 */
int gz_index_load(const char *gz_path, const struct stat *st, struct gz_index *idx, int *found,
                  char *note, size_t note_size, struct error *err);

/*
 * Opens the index file again, for its windows (the index holds no descriptor, so that a job with
 * many inputs does not hold two descriptors per input). Returns the descriptor (read-only,
 * close-on-exec), or -1 with err set when it cannot be opened or is no longer the file that was
 * loaded (another file at its path, or this one changed).
 */
int gz_index_open(const struct gz_index *idx, struct error *err);

/* Reads point k's window into buf (GZ_WINDOW bytes of room) from the index open on fd. */
int gz_index_window(const struct gz_index *idx, int fd, size_t k, unsigned char *buf,
                    struct error *err);

/* Frees the points; safe on a zeroed index, and leaves it empty. */
void gz_index_release(struct gz_index *idx);

/* The paths an index for gz_path may have: beside it, and in the cache. Free both. */
int gz_index_paths(const char *gz_path, char **beside, char **cached, struct error *err);

struct gz_index_writer;

/* Starts writing an index for gz_path: a temporary file in the cache, or with `beside` beside the
 * file; each place falls back to the other. An index committed into the cache trims it to
 * $TRANCHE_CACHE_SIZE (default GZ_INDEX_CACHE_SIZE), least recently used first. */
int gz_index_writer_new(const char *gz_path, const struct stat *st, uint64_t spacing, int beside,
                        struct gz_index_writer **out, struct error *err);

#define GZ_INDEX_CACHE_SIZE (1ull << 30)

/* A gz_point_fn: appends a point and its window. `arg` is the writer. */
int gz_index_writer_add(void *arg, const struct gz_point *pt, const unsigned char *window,
                        struct error *err);

/* How many points the writer has so far. */
size_t gz_index_writer_points(const struct gz_index_writer *w);

/* Finishes the index of a file that decoded to usize bytes and renames it into place; the
 * writer is freed either way. *path (may be NULL) gets where it went; free it. */
int gz_index_writer_commit(struct gz_index_writer *w, uint64_t usize, char **path,
                           struct error *err);

/* Removes the temporary file and frees the writer. NULL is a no-op. */
void gz_index_writer_abort(struct gz_index_writer *w);

#endif
