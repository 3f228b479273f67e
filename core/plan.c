/*
 * core/plan.c: planning partitions at record boundaries. The parent probes each target
 * offset and moves forward to the byte after the next delimiter; partitions are contiguous, so no
 * record can be lost or owned twice, and a record longer than the target simply makes its
 * partition longer (no empty or duplicate partitions).
 */
#include "plan.h"

#include "bgzf.h"
#include "grow.h"
#include "gzindex.h"
#include "io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE_CHUNK (64 * 1024)

/*
 * Sets *next to the offset just after the first delimiter at or after `from`, or to `size` when
 * there is none. Reads forward in chunks, so a long record costs a scan but no memory.
 */
static int
next_boundary(int fd, const char *path, uint64_t from, uint64_t size, unsigned char delimiter,
              uint64_t *next, struct error *err)
{
    char buf[PROBE_CHUNK];
    uint64_t pos = from;

    while (pos < size) {
        size_t want = size - pos < sizeof(buf) ? (size_t)(size - pos) : sizeof(buf);
        ssize_t got = io_pread_full(fd, buf, want, pos);
        char *hit;

        if (got < 0) {
            return error_errno(err, "%s: read error at byte offset %llu", path,
                               (unsigned long long)pos);
        }
        if (got == 0) {
            return error_set(err, "%s: file shrank while planning (end at byte offset %llu)", path,
                             (unsigned long long)pos);
        }
        hit = memchr(buf, delimiter, (size_t)got);
        if (hit != NULL) {
            *next = pos + (uint64_t)(hit - buf) + 1;
            return 0;
        }
        pos += (uint64_t)got;
    }
    *next = size;
    return 0;
}

struct partition *
plan_push(struct plan *plan, size_t file, uint64_t start, uint64_t end)
{
    struct partition *p;

    if (GROW(plan->parts, plan->cap, plan->n_parts + 1) != 0) {
        return NULL;
    }
    p = &plan->parts[plan->n_parts];
    memset(p, 0, sizeof(*p));
    p->index = plan->n_parts;
    p->file = file;
    p->start = start;
    p->end = end;
    plan->n_parts++;
    return p;
}

int
plan_add_file(struct plan *plan, size_t file, const char *path, int fd, uint64_t size,
                    uint64_t target, unsigned char delimiter, struct error *err)
{
    uint64_t start = 0, end;

    if (target == 0) {
        target = 1;
    }
    while (start < size) {
        if (size - start <= target) {
            end = size;
        } else if (next_boundary(fd, path, start + target - 1, size, delimiter, &end, err) != 0) {
            return -1;
        }
        if (plan_push(plan, file, start, end) == NULL) {
            return error_set(err, "out of memory planning %s", path);
        }
        start = end;
    }
    return 0;
}

int
plan_add_bgzf(struct plan *plan, size_t file, const char *path, const struct bgzf_index *idx,
                    uint64_t target, struct error *err)
{
    size_t first = 0, b;
    uint64_t bytes = 0;

    if (target == 0) {
        target = 1;
    }
    for (b = 0; b < idx->n; b++) {
        bytes += idx->blocks[b].isize;
        if (bytes < target && b + 1 < idx->n) {
            continue;
        }
        if (bytes == 0) {
            /* Empty blocks at the end (the EOF block) join the partition before them. */
            if (plan->n_parts > 0 && plan->parts[plan->n_parts - 1].file == file) {
                plan->parts[plan->n_parts - 1].end_block = b + 1;
            }
        } else {
            struct partition *p = plan_push(plan, file, idx->blocks[first].ustart,
                                                 idx->blocks[first].ustart + bytes);
            if (p == NULL) {
                return error_set(err, "out of memory planning %s", path);
            }
            p->first_block = first;
            p->end_block = b + 1;
        }
        first = b + 1;
        bytes = 0;
    }
    return 0;
}

int
plan_add_gzindex(struct plan *plan, size_t file, const char *path, const struct gz_index *idx,
                       uint64_t target, struct error *err)
{
    size_t first = 0, k;
    struct partition *p;

    if (target == 0) {
        target = 1;
    }
    for (k = 1; k <= idx->n; k++) {
        uint64_t end = k < idx->n ? idx->points[k].out : idx->usize;
        if (k < idx->n && end - idx->points[first].out < target) {
            continue;
        }
        if (end == idx->points[first].out) {
            break; /* only an empty tail (members without data) is left: the last one reads it */
        }
        p = plan_push(plan, file, idx->points[first].out, end);
        if (p == NULL) {
            return error_set(err, "out of memory planning %s", path);
        }
        p->first_block = first;
        p->end_block = k;
        first = k;
    }
    if (plan->n_parts > 0 && plan->parts[plan->n_parts - 1].file == file) {
        plan->parts[plan->n_parts - 1].end_block = idx->n; /* the last reads to the end */
    }
    return 0;
}

void
plan_release(struct plan *plan)
{
    free(plan->parts);
    memset(plan, 0, sizeof(*plan));
}
