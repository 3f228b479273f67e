/*
 * tests/core/test_plan.c: the partition property. For random inputs built to hit the edges
 * (records longer than a partition, empty records, a last record without delimiter, \r\n, NUL
 * bytes, an empty file, fewer records than partitions) and random target sizes from 1 byte up:
 * partitions are contiguous, cover the file exactly, are never empty, each ends just after a
 * delimiter or at end of file, and each ends at the first delimiter at or after its target.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "plan.h"
#include "testutil.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
    return tu_rand(&rng_state);
}

/* Builds an input of about `size` bytes with the given delimiter and edge-case records. */
static char *
make_input(size_t size, unsigned char delim, size_t *len_out)
{
    char *buf = malloc(size + 4096);
    size_t len = 0;

    assert_non_null(buf);
    while (len < size) {
        uint64_t kind = rnd() % 10;
        size_t rec = kind == 0 ? 0 : kind == 1 ? (size_t)(rnd() % 3000) : (size_t)(rnd() % 40);
        size_t i;

        if (len + rec + 2 > size + 4096) {
            rec = 0;
        }
        for (i = 0; i < rec; i++) {
            uint64_t r = rnd() % 64;
            char c = r == 0 ? '\0' : r == 1 ? '\r' : (char)('a' + r % 26);
            buf[len++] = c == (char)delim ? 'x' : c;
        }
        if (kind == 2 && delim == '\n') {
            buf[len++] = '\r';
        }
        buf[len++] = (char)delim;
    }
    if (rnd() % 2 == 0 && len > 0) {
        len--; /* last record without delimiter */
    }
    *len_out = len;
    return buf;
}

static void
check_plan(const struct plan *plan, size_t first, const char *data, size_t len, uint64_t target,
           unsigned char delim)
{
    uint64_t expect_start = 0;
    size_t i;

    for (i = first; i < plan->n_parts; i++) {
        const struct partition *p = &plan->parts[i];
        uint64_t probe = p->start + target - 1, k;

        assert_int_equal(p->index, i);
        assert_int_equal(p->start, expect_start);
        assert_true(p->end > p->start);
        assert_true(p->end <= len);
        if (p->end < len) {
            /* Ends just after a delimiter, the first one at or after start + target - 1. */
            assert_int_equal((unsigned char)data[p->end - 1], delim);
            assert_true(p->end >= p->start + target);
        }
        for (k = probe; k + 1 < p->end; k++) {
            assert_true((unsigned char)data[k] != delim);
        }
        expect_start = p->end;
    }
    assert_int_equal(expect_start, len);
}

static void
plan_buffer(const char *dir, const char *data, size_t len, uint64_t target, unsigned char delim)
{
    char path[512];
    struct plan plan;
    struct error err;
    int fd;

    memset(&plan, 0, sizeof(plan));
    snprintf(path, sizeof(path), "%s/input", dir);
    tu_write_file(path, data, len);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(plan_add_file(&plan, 0, path, fd, len, target, tu_lines_of(delim), &err), 0);
    check_plan(&plan, 0, data, len, target, delim);
    if (len == 0) {
        assert_int_equal(plan.n_parts, 0);
    }
    if (len > 0 && target >= len) {
        assert_int_equal(plan.n_parts, 1);
    }
    close(fd);
    plan_release(&plan);
}

static void
test_plan__random_inputs_and_sizes(void **state)
{
    static const unsigned char delims[] = {'\n', '\0', ',', '\t'};
    char *dir = tu_mkdtemp();
    int round;

    (void)state;
    for (round = 0; round < 300; round++) {
        unsigned char delim = delims[round % 4];
        size_t size = round % 10 == 0 ? (size_t)(rnd() % 8) : (size_t)(rnd() % 20000);
        size_t len;
        char *data = make_input(size, delim, &len);
        uint64_t targets[6];
        int t;

        targets[0] = 1;
        targets[1] = 1 + rnd() % 16;
        targets[2] = 1 + rnd() % 512;
        targets[3] = 1 + rnd() % (len + 1);
        targets[4] = len + 1 + rnd() % 100;
        targets[5] = 1 + rnd() % 5000;
        for (t = 0; t < 6; t++) {
            plan_buffer(dir, data, len, targets[t], delim);
        }
        free(data);
    }
    tu_rmrf(dir);
    free(dir);
}

static void
test_plan__empty_file_has_no_partitions(void **state)
{
    char *dir = tu_mkdtemp();

    (void)state;
    plan_buffer(dir, "", 0, 1, '\n');
    plan_buffer(dir, "", 0, 1 << 20, '\n');
    tu_rmrf(dir);
    free(dir);
}

static void
test_plan__record_longer_than_partitions(void **state)
{
    char *dir = tu_mkdtemp();
    char path[512];
    /* One 100-byte record between short ones: targets inside it give no empty partition. */
    char data[120];
    struct plan plan;
    struct error err;
    int fd;

    (void)state;
    memset(data, 'x', sizeof(data));
    data[2] = '\n';
    data[103] = '\n';
    data[119] = '\n';
    snprintf(path, sizeof(path), "%s/long", dir);
    tu_write_file(path, data, sizeof(data));
    fd = open(path, O_RDONLY);
    memset(&plan, 0, sizeof(plan));
    assert_int_equal(plan_add_file(&plan, 0, path, fd, sizeof(data), 10, tu_lines_of('\n'), &err),
                     0);
    assert_int_equal(plan.n_parts, 2);
    assert_int_equal(plan.parts[0].start, 0);
    assert_int_equal(plan.parts[0].end, 104);
    assert_int_equal(plan.parts[1].start, 104);
    assert_int_equal(plan.parts[1].end, 120);
    close(fd);
    plan_release(&plan);
    tu_rmrf(dir);
    free(dir);
}

static void
test_plan__files_keep_order_and_never_share_a_partition(void **state)
{
    char *dir = tu_mkdtemp();
    char a[512], b[512];
    struct plan plan;
    struct error err;
    int fa, fb;
    size_t i, n_a = 0;

    (void)state;
    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b", dir);
    tu_write_file(a, "one\ntwo\nthree", 13);
    tu_write_file(b, "four\nfive\n", 10);
    fa = open(a, O_RDONLY);
    fb = open(b, O_RDONLY);
    memset(&plan, 0, sizeof(plan));
    assert_int_equal(plan_add_file(&plan, 0, a, fa, 13, 4, tu_lines_of('\n'), &err), 0);
    n_a = plan.n_parts;
    assert_int_equal(plan_add_file(&plan, 1, b, fb, 10, 4, tu_lines_of('\n'), &err), 0);
    for (i = 0; i < plan.n_parts; i++) {
        assert_int_equal(plan.parts[i].index, i);
        assert_int_equal(plan.parts[i].file, i < n_a ? 0 : 1);
    }
    assert_int_equal(plan.parts[n_a - 1].end, 13);
    assert_int_equal(plan.parts[n_a].start, 0);
    assert_int_equal(plan.parts[plan.n_parts - 1].end, 10);
    close(fa);
    close(fb);
    plan_release(&plan);
    tu_rmrf(dir);
    free(dir);
}

static void
test_plan__offsets_beyond_4GiB(void **state)
{
    /* A sparse file of 5 GiB + 3 bytes of NUL bytes: with '\0' as the delimiter every byte ends a
     * record, so boundaries fall exactly on the targets and must not wrap at 32 bits. */
    const uint64_t size = (5ull << 30) + 3;
    char *dir = tu_mkdtemp();
    char path[512];
    struct plan plan;
    struct error err;
    int fd;

    (void)state;
    snprintf(path, sizeof(path), "%s/sparse", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    if (ftruncate(fd, (off_t)size) != 0) {
        close(fd);
        tu_rmrf(dir);
        free(dir);
        skip();
    }
    memset(&plan, 0, sizeof(plan));
    assert_int_equal(plan_add_file(&plan, 0, path, fd, size, 3ull << 30, tu_lines_of('\0'), &err),
                     0);
    assert_int_equal(plan.n_parts, 2);
    assert_true(plan.parts[0].end == 3ull << 30);
    assert_true(plan.parts[1].start == 3ull << 30);
    assert_true(plan.parts[1].end == size);
    plan_release(&plan);
    assert_int_equal(
        plan_add_file(&plan, 0, path, fd, size, (4ull << 30) + 1, tu_lines_of('\0'), &err), 0);
    assert_int_equal(plan.n_parts, 2);
    assert_true(plan.parts[0].end == (4ull << 30) + 1);
    plan_release(&plan);
    close(fd);
    tu_rmrf(dir);
    free(dir);
}

/* CPU seconds this process has used (reads from the page cache count as system time). */
static double
cpu_seconds(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Writes n two-byte records "x\n" to dir/name, opens it, and returns the descriptor. */
static int
tiny_records(const char *dir, const char *name, size_t n, char *path, size_t size)
{
    char *data = malloc(2 * n);
    size_t i;
    int fd;

    assert_non_null(data);
    for (i = 0; i < n; i++) {
        data[2 * i] = 'x';
        data[2 * i + 1] = '\n';
    }
    snprintf(path, size, "%s/%s", dir, name);
    tu_write_file(path, data, 2 * n);
    free(data);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    return fd;
}

/* Bytes this process has read so far (rchar of /proc/self/io: read and pread alike), or -1
 * where the kernel does not count them. */
static long long
bytes_read(void)
{
    char *io = tu_read_file("/proc/self/io", NULL);
    const char *rchar = io != NULL ? strstr(io, "rchar: ") : NULL;
    long long n = rchar != NULL ? atoll(rchar + 7) : -1;

    free(io);
    return n;
}

/* Probing reads each byte once: 99,000 one-record partitions must not read 64 KiB each (that was
 * 6 GB of reads; now the file's 200 KB). */
static void
test_plan__probing_reads_each_byte_once(void **state)
{
    char *dir = tu_mkdtemp(), path[512];
    size_t n = PLAN_MAX_PARTITIONS - 1000;
    int fd = tiny_records(dir, "tiny", n, path, sizeof(path));
    struct plan plan;
    struct error err;
    long long before = bytes_read(), read;
    double t0 = cpu_seconds(), took;

    (void)state;
    memset(&plan, 0, sizeof(plan));
    assert_int_equal(plan_add_file(&plan, 0, path, fd, 2 * n, 1, tu_lines_of('\n'), &err), 0);
    took = cpu_seconds() - t0;
    read = bytes_read() - before;
    assert_int_equal(plan.n_parts, n);
    assert_int_equal(plan.parts[n - 1].start, 2 * (n - 1));
    if (before >= 0 && read > (long long)(2 * n + 4096)) {
        fail_msg("planning a file of %zu bytes read %lld bytes", 2 * n, read);
    }
    if (took > 0.5) {
        fail_msg("planning %zu partitions took %.2f s of CPU", n, took);
    }
    assert_false(plan_is_full(&plan));
    close(fd);
    plan_release(&plan);
    tu_rmrf(dir);
    free(dir);
}

/* Past PLAN_MAX_PARTITIONS, planning stops at once, whatever the file's size, and counts the
 * partitions of every file of the plan together. */
static void
test_plan__partition_count_is_bounded(void **state)
{
    char *dir = tu_mkdtemp(), a[512], b[512];
    size_t n = PLAN_MAX_PARTITIONS / 2 + 1;
    int fa = tiny_records(dir, "a", 4 * PLAN_MAX_PARTITIONS, a, sizeof(a));
    int fb = tiny_records(dir, "b", n, b, sizeof(b));
    struct plan plan;
    struct error err;
    double t0 = cpu_seconds(), took;

    (void)state;
    memset(&plan, 0, sizeof(plan));
    assert_int_equal(
        plan_add_file(&plan, 0, a, fa, 8 * PLAN_MAX_PARTITIONS, 1, tu_lines_of('\n'), &err), -1);
    took = cpu_seconds() - t0;
    assert_true(plan_is_full(&plan));
    assert_int_equal(plan.n_parts, PLAN_MAX_PARTITIONS);
    assert_non_null(strstr(err.msg, "more than 100000 partitions"));
    assert_non_null(strstr(err.msg, a));
    if (took > 0.5) {
        fail_msg("refusing took %.2f s of CPU", took);
    }
    plan_release(&plan);

    /* Two files of n partitions each: the second passes the limit. */
    assert_int_equal(plan_add_file(&plan, 0, b, fb, 2 * n, 1, tu_lines_of('\n'), &err), 0);
    assert_false(plan_is_full(&plan));
    assert_int_equal(plan_add_file(&plan, 1, b, fb, 2 * n, 1, tu_lines_of('\n'), &err), -1);
    assert_true(plan_is_full(&plan));
    plan_release(&plan);
    /* In partitions of 4 bytes the first file is still past the limit; of 8, just at it. */
    assert_int_equal(
        plan_add_file(&plan, 0, a, fa, 8 * PLAN_MAX_PARTITIONS, 4, tu_lines_of('\n'), &err), -1);
    plan_release(&plan);
    assert_int_equal(
        plan_add_file(&plan, 0, a, fa, 8 * PLAN_MAX_PARTITIONS, 8, tu_lines_of('\n'), &err), 0);
    assert_int_equal(plan.n_parts, PLAN_MAX_PARTITIONS);
    plan_release(&plan);
    close(fa);
    close(fb);
    tu_rmrf(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan__random_inputs_and_sizes),
        cmocka_unit_test(test_plan__empty_file_has_no_partitions),
        cmocka_unit_test(test_plan__record_longer_than_partitions),
        cmocka_unit_test(test_plan__files_keep_order_and_never_share_a_partition),
        cmocka_unit_test(test_plan__offsets_beyond_4GiB),
        cmocka_unit_test(test_plan__probing_reads_each_byte_once),
        cmocka_unit_test(test_plan__partition_count_is_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
