/*
 * tests/core/test_gzread.c: the gzip reader's access points, against the data they came from.
 * For gzip streams made here with zlib (several levels, with and without sync and full flushes,
 * text and binary data, one member and several), every access point the reader records must let
 * a reader started there produce exactly the rest of the data, and every segment between two
 * points that libdeflate can take (when the build has it) must decode to exactly those bytes,
 * whatever the bit alignment of the points.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "gzread.h"
#include "testutil.h"

/* The points a reader recorded, and their windows. */
struct points {
    struct gz_point pt[4096];
    unsigned char *window[4096];
    size_t n;
};

static int
collect(void *arg, const struct gz_point *pt, const unsigned char *window, struct error *err)
{
    struct points *ps = arg;

    (void)err;
    assert_true(ps->n < 4096);
    ps->pt[ps->n] = *pt;
    ps->window[ps->n] = malloc(pt->window_len + 1);
    assert_non_null(ps->window[ps->n]);
    if (pt->window_len > 0) {
        memcpy(ps->window[ps->n], window, pt->window_len);
    }
    ps->n++;
    return 0;
}

/* Data that compresses like logs (words, numbers), or not at all (random bytes). */
static unsigned char *
make_data(size_t len, int binary, uint64_t seed)
{
    static const char *const words[] = {"GET ",  "/index.html ", "200 ", "404 ", "Mozilla/5.0 ",
                                        "\n",    "2026-11-26 ",  "user", "-",    "\"",
                                        "12345 "};
    unsigned char *d = malloc(len);
    size_t i = 0;

    assert_non_null(d);
    while (i < len) {
        if (binary) {
            d[i++] = (unsigned char)tu_rand(&seed);
        } else {
            const char *w = words[tu_rand(&seed) % (sizeof(words) / sizeof(words[0]))];
            size_t n = strlen(w);
            memcpy(d + i, w, n < len - i ? n : len - i);
            i += n < len - i ? n : len - i;
        }
    }
    return d;
}

/* Decodes the whole file with a reader from point k and checks it gives data[pt.out, len). */
static void
check_seek(int fd, const char *path, uint64_t size, const struct points *ps, size_t k,
           const unsigned char *data, size_t len)
{
    struct gz_reader *r;
    struct error err;
    unsigned char *buf = malloc(len + 1);
    size_t have = 0;
    ssize_t n;

    assert_non_null(buf);
    assert_int_equal(gz_reader_new(fd, path, size, &r, &err), 0);
    assert_int_equal(gz_reader_seek(r, &ps->pt[k], ps->window[k], &err), 0);
    while ((n = gz_reader_read(r, buf + have, len + 1 - have, &err)) > 0) {
        have += (size_t)n;
    }
    if (n < 0) {
        fail_msg("point %zu (out %llu): %s", k, (unsigned long long)ps->pt[k].out, err.msg);
    }
    assert_int_equal(have, len - ps->pt[k].out);
    assert_memory_equal(buf, data + ps->pt[k].out, have);
    gz_reader_free(r);
    free(buf);
}

static void
check_file(const unsigned char *data, size_t len, int members, int level, int flush_kind,
           size_t every, uint64_t spacing, unsigned *leads)
{
    char path[1024];
    struct points *ps = calloc(1, sizeof(*ps));
    struct gz_segment_decoder *seg = NULL;
    struct gz_reader *r;
    struct error err;
    unsigned char *buf = malloc(1 << 16);
    size_t k, m, segments = 0;
    FILE *f;
    int fd;
    ssize_t n;
    uint64_t size;

    assert_non_null(ps);
    assert_non_null(buf);
    snprintf(path, sizeof(path), "%s/t.gz", tu_dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    for (m = 0; m < (size_t)members; m++) {
        size_t from = len * m / (size_t)members, to = len * (m + 1) / (size_t)members;
        struct tu_member o;
        memset(&o, 0, sizeof(o));
        o.level = level;
        o.flush_every = every;
        o.flush = flush_kind;
        tu_gzip_member(f, data + from, to - from, &o);
    }
    fclose(f);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    size = (uint64_t)lseek(fd, 0, SEEK_END);
    /* One pass recording points; it must decode to the data. */
    assert_int_equal(gz_reader_new(fd, path, size, &r, &err), 0);
    gz_reader_track(r, spacing, collect, ps);
    for (k = 0; (n = gz_reader_read(r, buf, 1 << 16, &err)) > 0; k += (size_t)n) {
        assert_memory_equal(buf, data + k, (size_t)n);
    }
    assert_int_equal(n, 0);
    assert_int_equal(k, len);
    assert_int_equal(gz_reader_members(r), (uint64_t)members);
    gz_reader_free(r);
    assert_true(ps->n >= 1);
    assert_int_equal(ps->pt[0].out, 0);
    /* Every point starts a reader that gives the rest. */
    for (k = 0; k < ps->n; k++) {
        check_seek(fd, path, size, ps, k, data, len);
    }
    /* Every segment libdeflate can take gives exactly its bytes. */
    assert_int_equal(gz_segment_decoder_new(&seg, &err), 0);
    for (k = 0; seg != NULL && k + 1 < ps->n; k++) {
        unsigned char *out;
        if (!gz_segment_fits(seg, &ps->pt[k], &ps->pt[k + 1])) {
            continue;
        }
        n = gz_segment_decode(seg, fd, path, &ps->pt[k], ps->window[k], &ps->pt[k + 1], &out, &err);
        if (n < 0) {
            fail_msg("segment %zu (bits %u, out %llu): %s", k, ps->pt[k].bits,
                     (unsigned long long)ps->pt[k].out, err.msg);
        }
        assert_int_equal((size_t)n, ps->pt[k + 1].out - ps->pt[k].out);
        assert_memory_equal(out, data + ps->pt[k].out, (size_t)n);
        leads[(ps->pt[k].in * 8 - ps->pt[k].bits) % 8]++;
        segments++;
    }
    gz_segment_decoder_free(seg);
    close(fd);
    for (k = 0; k < ps->n; k++) {
        free(ps->window[k]);
    }
    free(ps);
    free(buf);
}

static void
test_gzread__every_point_and_segment_gives_the_data(void **state)
{
    static const int flushes[] = {Z_NO_FLUSH, Z_SYNC_FLUSH, Z_FULL_FLUSH, Z_BLOCK};
    unsigned leads[8] = {0};
    unsigned char *text = make_data(600000, 0, 1), *binary = make_data(200000, 1, 2);
    size_t f, i, covered = 0;

    (void)state;
    for (f = 0; f < sizeof(flushes) / sizeof(flushes[0]); f++) {
        check_file(text, 600000, 1, 6, flushes[f], 5000, 1, leads);
        check_file(text, 600000, 3, 1, flushes[f], 777, 20000, leads);
        check_file(text, 600000, 2, 9, flushes[f], 0, 1, leads);
        check_file(binary, 200000, 1, 6, flushes[f], 3000, 1, leads);
    }
    /* libdeflate builds: the segments met every bit alignment a point can have (or nearly). */
    for (i = 0; i < 8; i++) {
        covered += leads[i] > 0;
    }
#ifdef TRANCHE_HAVE_LIBDEFLATE
    assert_true(covered >= 7);
#else
    assert_int_equal(covered, 0);
#endif
    free(text);
    free(binary);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzread__every_point_and_segment_gives_the_data),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
