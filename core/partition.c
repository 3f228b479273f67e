/*
 * core/partition.c: planning partitions at record boundaries. The parent probes each target
 * offset and moves forward to the byte after the next delimiter; partitions are contiguous, so no
 * record can be lost or owned twice, and a record longer than the target simply makes its
 * partition longer (no empty or duplicate partitions).
 */
#include "partition.h"

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
        ssize_t got = pread(fd, buf, want, (off_t)pos);
        char *hit;

        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return error_errno(err, "%s: read error at byte offset %llu", path,
                               (unsigned long long)pos);
        }
        if (got == 0) {
            return error_set(err, "%s: file shrank while planning (end at byte offset %llu)",
                             path, (unsigned long long)pos);
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

static int
push(struct plan *plan, size_t file, uint64_t start, uint64_t end)
{
    if (plan->n_parts == plan->cap) {
        size_t cap = plan->cap ? plan->cap * 2 : 64;
        struct partition *grown = realloc(plan->parts, cap * sizeof(*grown));
        if (grown == NULL) {
            return -1;
        }
        plan->parts = grown;
        plan->cap = cap;
    }
    plan->parts[plan->n_parts].index = plan->n_parts;
    plan->parts[plan->n_parts].file = file;
    plan->parts[plan->n_parts].start = start;
    plan->parts[plan->n_parts].end = end;
    plan->n_parts++;
    return 0;
}

int
partition_plan_file(struct plan *plan, size_t file, const char *path, int fd, uint64_t size,
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
        if (push(plan, file, start, end) != 0) {
            return error_set(err, "out of memory planning %s", path);
        }
        start = end;
    }
    return 0;
}

void
partition_plan_release(struct plan *plan)
{
    free(plan->parts);
    memset(plan, 0, sizeof(*plan));
}
