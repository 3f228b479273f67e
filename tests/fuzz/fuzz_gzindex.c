/*
 * tests/fuzz/fuzz_gzindex.c: libFuzzer target for the access-point index (core/gzindex.c) and
 * for decoding from its points, as a worker does. The fuzzer's bytes are the points and the
 * windows; this harness frames them as an index of a fixed, valid gzip file (header with the
 * file's size and mtime, each point's fingerprint, the CRC-32s), so that the loader's checks of
 * the points themselves are what is tried. An index the loader accepts is then walked: from each
 * point, with the window it gives, the reader decodes to the next point and checks it there,
 * and the libdeflate segment decoder does the same. No crash, no hang, no leak, whatever lies.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "codec.h"
#include "gzindex.h"
#include "gzread.h"
#include "io.h"

#define HEADER 64
#define ENTRY 48
#define FOOTER 40

static char gz_path[256], index_path[300];

/* A gzip file of numbered lines, with full flushes: many block boundaries to point at. */
static void
make_gzip(void)
{
    char dir[] = "/tmp/tranche-fuzz-gzindex-XXXXXX", line[32];
    gzFile g;
    int i;

    if (mkdtemp(dir) == NULL) {
        abort();
    }
    snprintf(gz_path, sizeof(gz_path), "%s/in.gz", dir);
    snprintf(index_path, sizeof(index_path), "%s%s", gz_path, GZ_INDEX_SUFFIX);
    g = gzopen(gz_path, "wb6");
    for (i = 0; g != NULL && i < 20000; i++) {
        int n = snprintf(line, sizeof(line), "%d\n", i);
        gzwrite(g, line, (unsigned)n);
        if (i % 1500 == 0) {
            gzflush(g, Z_FULL_FLUSH);
        }
    }
    if (g == NULL || gzclose(g) != Z_OK) {
        abort();
    }
}

static uint32_t
fingerprint(int gz_fd, uint64_t in)
{
    unsigned char buf[32];
    ssize_t n = io_pread_full(gz_fd, buf, sizeof(buf), in > 0 ? in - 1 : 0);

    return codec_crc32(0, buf, n > 0 ? (size_t)n : 0);
}

/* Frames data as an index of the gzip file: data[0] says how many points (1-32) follow, as
 * 48-byte entries; the rest is the windows' area. Returns the index bytes, *len their count. */
static unsigned char *
frame(const uint8_t *data, size_t size, const struct stat *st, size_t *len)
{
    size_t n = size > 0 ? (size_t)(data[0] % 32) + 1 : 1, wlen, i;
    int gz_fd = open(gz_path, O_RDONLY);
    unsigned char *f, *table, *footer;
    uint32_t crc;

    if (size < 1 + n * ENTRY) {
        n = size > 1 ? (size - 1) / ENTRY : 0;
    }
    wlen = size > 1 + n * ENTRY ? size - 1 - n * ENTRY : 0;
    *len = HEADER + wlen + n * ENTRY + FOOTER;
    f = calloc(1, *len);
    if (f == NULL || gz_fd < 0) {
        abort();
    }
    memcpy(f, "TRANCHE GZINDEX\n", 16);
    io_put_le(f + 16, 3, 4);
    io_put_le(f + 20, HEADER, 4);
    io_put_le(f + 24, (uint64_t)st->st_size, 8);
    io_put_le(f + 32, (uint64_t)st->st_mtim.tv_sec, 8);
    io_put_le(f + 40, (uint64_t)st->st_mtim.tv_nsec, 8);
    io_put_le(f + 48, 4096, 8);
    memcpy(f + HEADER, data + 1 + n * ENTRY, wlen);
    table = f + HEADER + wlen;
    memcpy(table, data + 1, n * ENTRY);
    for (i = 0; i < n; i++) {
        io_put_le(table + i * ENTRY + 44, fingerprint(gz_fd, io_get_le(table + i * ENTRY, 8)), 4);
    }
    close(gz_fd);
    footer = table + n * ENTRY;
    io_put_le(footer, HEADER + wlen, 8);
    io_put_le(footer + 8, n, 8);
    io_put_le(footer + 16, n > 0 ? io_get_le(table + (n - 1) * ENTRY + 8, 8) + 100 : 0, 8);
    crc = codec_crc32(codec_crc32(0, f, HEADER), table, n * ENTRY);
    io_put_le(footer + 24, codec_crc32(crc, footer, 24), 4);
    io_put_le(footer + 28, codec_crc32(0, f + HEADER, wlen), 4);
    memcpy(footer + 32, "GZINDEX\n", 8);
    return f;
}

static void
walk(const struct gz_index *idx, const struct stat *st)
{
    static unsigned char buf[1u << 16], window[GZ_WINDOW];
    struct gz_segment_decoder *seg = NULL;
    struct gz_reader *r = NULL;
    struct error err;
    int fd = open(gz_path, O_RDONLY), ifd = gz_index_open(idx, &err);
    size_t k;

    if (fd < 0 || ifd < 0 || gz_reader_new(fd, gz_path, (uint64_t)st->st_size, &r, &err) != 0 ||
        gz_segment_decoder_new(&seg, &err) != 0) {
        abort();
    }
    for (k = 0; k + 1 < idx->n; k++) {
        uint64_t want = idx->points[k + 1].out - idx->points[k].out;
        unsigned char *data;
        ssize_t n = 0;

        if (gz_index_window(idx, ifd, k, window, &err) != 0 ||
            gz_reader_seek(r, &idx->points[k], window, &err) != 0) {
            continue;
        }
        while (want > 0 &&
               (n = gz_reader_read(r, buf, want < sizeof(buf) ? want : sizeof(buf), &err)) > 0) {
            want -= (uint64_t)n;
        }
        if (want == 0) {
            gz_reader_verify(r, &idx->points[k + 1], &err);
        }
        if (gz_segment_fits(seg, &idx->points[k], &idx->points[k + 1])) {
            gz_segment_decode(seg, fd, gz_path, &idx->points[k], window, &idx->points[k + 1], &data,
                              &err);
        }
    }
    gz_segment_decoder_free(seg);
    gz_reader_free(r);
    close(fd);
    close(ifd);
}

static int
seed_point(void *arg, const struct gz_point *pt, const unsigned char *window, struct error *err)
{
    FILE **f = arg;
    unsigned char e[ENTRY];

    (void)window;
    (void)err;
    memset(e, 0, sizeof(e));
    io_put_le(e, pt->in, 8);
    io_put_le(e + 8, pt->out, 8);
    io_put_le(e + 16, pt->member_out, 8);
    io_put_le(e + 24, HEADER, 8); /* every window at the start of the windows' area */
    io_put_le(e + 32, pt->crc, 4);
    io_put_le(e + 36, pt->window_len, 4);
    e[40] = pt->bits;
    e[41] = pt->at_header;
    e[42] = pt->prev_byte;
    fwrite(e, 1, sizeof(e), f[0]);
    if (pt->window_len > 0 && ftell(f[1]) == 0) {
        fwrite(window, 1, pt->window_len, f[1]);
    }
    return 0;
}

/* With FUZZ_GZINDEX_SEED=PATH: writes a seed input made from the real points of the gzip file
 * (the windows' area holds the first point's window, which every point then names), and exits.
 * The committed seed in tests/fuzz/corpus/gzindex was made this way. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static unsigned char buf[1u << 16];
    const char *seed = getenv("FUZZ_GZINDEX_SEED");
    struct gz_reader *r = NULL;
    struct error err;
    FILE *f[2];
    unsigned char count;
    struct stat st;
    char *w;
    size_t wl;
    int fd;

    (void)argc;
    (void)argv;
    make_gzip();
    if (seed == NULL) {
        return 0;
    }
    fd = open(gz_path, O_RDONLY);
    f[0] = tmpfile();
    f[1] = open_memstream(&w, &wl);
    if (fd < 0 || fstat(fd, &st) != 0 || f[0] == NULL || f[1] == NULL ||
        gz_reader_new(fd, gz_path, (uint64_t)st.st_size, &r, &err) != 0) {
        abort();
    }
    gz_reader_track(r, 8192, seed_point, f);
    while (gz_reader_read(r, buf, sizeof(buf), &err) > 0) {
    }
    fclose(f[1]);
    count = (unsigned char)(ftell(f[0]) / ENTRY - 1);
    rewind(f[0]);
    {
        FILE *out = fopen(seed, "wb");
        size_t n;
        if (out == NULL) {
            abort();
        }
        fwrite(&count, 1, 1, out);
        while ((n = fread(buf, 1, sizeof(buf), f[0])) > 0) {
            fwrite(buf, 1, n, out);
        }
        fwrite(w, 1, wl, out);
        memset(buf, 0, GZ_WINDOW);
        fwrite(buf, 1, GZ_WINDOW - wl, out); /* a whole window's room for every point */
        fclose(out);
    }
    exit(0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gz_index idx;
    struct stat st;
    struct error err;
    unsigned char *f;
    char note[1200];
    size_t len;
    int fd, found = 0;

    if (stat(gz_path, &st) != 0) {
        abort();
    }
    f = frame(data, size, &st, &len);
    fd = open(index_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || io_write_all(fd, f, len) != 0 || close(fd) != 0) {
        abort();
    }
    free(f);
    if (gz_index_load(gz_path, &st, &idx, &found, note, sizeof(note), &err) != 0) {
        abort(); /* only out of memory fails */
    }
    if (getenv("FUZZ_VERBOSE") != NULL) {
        fprintf(stderr, "index %s: %s\n", found ? "used" : "not used", note);
    }
    if (found) {
        walk(&idx, &st);
    }
    gz_index_release(&idx);
    return 0;
}
