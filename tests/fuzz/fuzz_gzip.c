/*
 * tests/fuzz/fuzz_gzip.c: libFuzzer target for the gzip readers (core/bgzf.c, core/gzread.c).
 * The bytes are a gzip file: it is indexed as BGZF and its blocks decoded, or read as a stream
 * while access points are recorded; then decoding starts again from each point, is checked
 * against the next, and each segment between two points goes through the libdeflate segment
 * decoder too. Every path ends with success or a message: no crash, no hang, no leak.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bgzf.h"
#include "gzread.h"

#define MAX_POINTS 64

struct points {
    struct gz_point pt[MAX_POINTS];
    unsigned char *window[MAX_POINTS];
    size_t n;
};

static int
keep_point(void *arg, const struct gz_point *pt, const unsigned char *window, struct error *err)
{
    struct points *p = arg;

    (void)err;
    if (p->n == MAX_POINTS) {
        return 0;
    }
    p->window[p->n] = malloc(GZ_WINDOW);
    if (p->window[p->n] == NULL) {
        abort();
    }
    if (pt->window_len > 0) {
        memcpy(p->window[p->n], window, pt->window_len);
    }
    p->pt[p->n++] = *pt;
    return 0;
}

static void
check(int rc, const struct error *err)
{
    if (rc < 0 && err->msg[0] == '\0') {
        abort(); /* a failure must say why */
    }
}

static void
bgzf_blocks(int fd, const char *path, const struct bgzf_index *idx)
{
    struct bgzf_decoder *d = NULL;
    unsigned char *out = malloc(BGZF_MAX_BLOCK);
    struct error err;
    size_t b;

    if (out == NULL || bgzf_decoder_new(&d, &err) != 0) {
        abort();
    }
    for (b = 0; b < idx->n; b++) {
        err.msg[0] = '\0';
        check(bgzf_decode_block(d, fd, path, &idx->blocks[b], out, &err), &err);
    }
    bgzf_decoder_free(d);
    free(out);
}

/* From each point to the next: the reader, then the segment decoder. */
static void
from_points(int fd, const char *path, uint64_t size, struct points *p)
{
    static unsigned char buf[1u << 16];
    struct gz_segment_decoder *seg = NULL;
    struct gz_reader *r = NULL;
    struct error err;
    size_t k;

    if (gz_reader_new(fd, path, size, &r, &err) != 0 || gz_segment_decoder_new(&seg, &err) != 0) {
        abort();
    }
    for (k = 0; k + 1 < p->n; k++) {
        uint64_t want = p->pt[k + 1].out - p->pt[k].out;
        unsigned char *data;
        ssize_t n = 0;

        err.msg[0] = '\0';
        if (gz_reader_seek(r, &p->pt[k], p->window[k], &err) != 0) {
            check(-1, &err);
            continue;
        }
        while (want > 0 &&
               (n = gz_reader_read(r, buf, want < sizeof(buf) ? want : sizeof(buf), &err)) > 0) {
            want -= (uint64_t)n;
        }
        check(n < 0 ? -1 : 0, &err);
        if (want == 0) {
            err.msg[0] = '\0';
            check(gz_reader_verify(r, &p->pt[k + 1], &err), &err);
        }
        if (gz_segment_fits(seg, &p->pt[k], &p->pt[k + 1])) {
            err.msg[0] = '\0';
            check(gz_segment_decode(seg, fd, path, &p->pt[k], p->window[k], &p->pt[k + 1], &data,
                                    &err) < 0
                      ? -1
                      : 0,
                  &err);
        }
    }
    gz_segment_decoder_free(seg);
    gz_reader_free(r);
}

static void
as_stream(int fd, const char *path, uint64_t size)
{
    static unsigned char buf[1u << 16];
    struct gz_reader *r = NULL;
    struct points p;
    struct error err;
    ssize_t n;
    size_t k;

    memset(&p, 0, sizeof(p));
    if (gz_reader_new(fd, path, size, &r, &err) != 0) {
        abort();
    }
    gz_reader_track(r, 4096, keep_point, &p);
    err.msg[0] = '\0';
    while ((n = gz_reader_read(r, buf, sizeof(buf), &err)) > 0) {
    }
    check(n < 0 ? -1 : 0, &err);
    gz_reader_free(r);
    if (n == 0) {
        from_points(fd, path, size, &p);
    }
    for (k = 0; k < p.n; k++) {
        free(p.window[k]);
    }
}

static char path[256];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bgzf_index idx;
    struct error err;
    int fd, is_bgzf = 0, rc;

    if (path[0] == '\0') {
        char dir[] = "/tmp/tranche-fuzz-gzip-XXXXXX";
        if (mkdtemp(dir) == NULL) {
            abort();
        }
        snprintf(path, sizeof(path), "%s/in.gz", dir);
    }
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        abort();
    }
    memset(&idx, 0, sizeof(idx));
    err.msg[0] = '\0';
    rc = bgzf_index_build(fd, path, size, &idx, &is_bgzf, &err);
    check(rc, &err);
    if (rc == 0 && is_bgzf) {
        bgzf_blocks(fd, path, &idx);
    }
    bgzf_index_release(&idx);
    as_stream(fd, path, size);
    close(fd);
    return 0;
}
