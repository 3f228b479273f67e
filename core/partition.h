/*
 * core/partition.h: the partition plan. Each input file is cut into contiguous byte ranges
 * [start, end) of about the target size, each ending just after a delimiter or at end of file, so
 * every record belongs to exactly one partition. Computed once, in the parent.
 */
#ifndef TRANCHE_PARTITION_H
#define TRANCHE_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct partition {
    size_t index;  /* global, in output order: file order, then offset order */
    size_t file;   /* index into the plan's inputs */
    uint64_t start;
    uint64_t end;  /* exclusive; end > start always */
};

struct plan {
    struct partition *parts;
    size_t n_parts;
    size_t cap;
};

/*
 * Appends the partitions of one open file (size bytes, read with pread on fd) to plan, with
 * file index `file`. An empty file adds none. Returns 0, or -1 with err naming `path` on a read
 * error.
 */
int partition_plan_file(struct plan *plan, size_t file, const char *path, int fd, uint64_t size,
                        uint64_t target, unsigned char delimiter, struct error *err);

/* Frees the plan's array; safe on a zeroed plan, and leaves it zeroed. */
void partition_plan_release(struct plan *plan);

#endif
