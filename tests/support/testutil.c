/* tests/support/testutil.c: see testutil.h. */
#include "testutil.h"

#include "framing.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

char *
tu_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    char *path;

    if (tmp == NULL || *tmp == '\0') {
        tmp = "/tmp";
    }
    if (asprintf(&path, "%s/tranche-test-XXXXXX", tmp) < 0) {
        abort();
    }
    if (mkdtemp(path) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

void
tu_rmrf(const char *path)
{
    char *cmd;

    if (asprintf(&cmd, "rm -rf '%s'", path) < 0) {
        abort();
    }
    if (system(cmd) != 0) {
        fprintf(stderr, "warning: %s failed\n", cmd);
    }
    free(cmd);
}

void
tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
}

char *
tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        if (cap - n < 65536) {
            cap = cap * 2 + 65536;
            buf = realloc(buf, cap + 1);
            if (buf == NULL) {
                abort();
            }
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL) {
        *len = n;
    }
    return buf;
}

int
tu_run(const char *command, char **stderr_out)
{
    char errpath[] = "/tmp/tranche-test-stderr-XXXXXX";
    char *full = NULL;
    int fd = -1, status;

    if (stderr_out != NULL) {
        fd = mkstemp(errpath);
        if (fd < 0) {
            abort();
        }
        close(fd);
        if (asprintf(&full, "( %s ) 2>'%s'", command, errpath) < 0) {
            abort();
        }
    }
    status = system(full != NULL ? full : command);
    free(full);
    if (stderr_out != NULL) {
        *stderr_out = tu_read_file(errpath, NULL);
        unlink(errpath);
    }
    if (status == -1) {
        return -1;
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

int
tu_runf(char **stderr_out, const char *fmt, ...)
{
    char *cmd;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vasprintf(&cmd, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        abort();
    }
    rc = tu_run(cmd, stderr_out);
    free(cmd);
    return rc;
}

int
tu_files_equal(const char *a, const char *b)
{
    size_t la, lb, i;
    char *da = tu_read_file(a, &la);
    char *db = tu_read_file(b, &lb);
    int same;

    if (da == NULL || db == NULL) {
        fprintf(stderr, "cannot read %s\n", da == NULL ? a : b);
        free(da);
        free(db);
        return 0;
    }
    same = la == lb && memcmp(da, db, la) == 0;
    if (!same) {
        for (i = 0; i < la && i < lb && da[i] == db[i]; i++) {
        }
        fprintf(stderr, "%s (%zu bytes) and %s (%zu bytes) differ at byte %zu\n", a, la, b, lb, i);
    }
    free(da);
    free(db);
    return same;
}

int
tu_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

int
tu_process_with_arg(const char *arg)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;

    if (d == NULL) {
        return 0;
    }
    while (found == 0 && (e = readdir(d)) != NULL) {
        char path[300];
        char *cmdline, *p;
        size_t len;
        int pid = atoi(e->d_name);

        if (pid <= 0 || pid == (int)getpid()) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
        cmdline = tu_read_file(path, &len);
        for (p = cmdline; p != NULL && p < cmdline + len; p += strlen(p) + 1) {
            if (strcmp(p, arg) == 0) {
                found = pid;
                break;
            }
        }
        free(cmdline);
    }
    closedir(d);
    return found;
}

uint64_t
tu_rand(uint64_t *state)
{
    /* splitmix64: deterministic, so a failure reproduces. */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_state = 42;

static uint64_t
rnd(void)
{
    return tu_rand(&rng_state);
}

static const char *const words[] = {"GET", "POST", " 404 ", " 200 ", "alpha", "Beta", "gamma", "x",
                                    "",    "a,b",  "c\td",  "zz",    " 500 ", "ünï",  "\r"};

/*
 * Writes an input of about `size` bytes: short and empty records, records far longer than the
 * smallest partitions, tabs and commas for cut, CRLF ends, and (optionally) NUL bytes and a
 * last record without its delimiter.
 */
void
tu_write_edge_input(const char *path, size_t size, int with_nul, int unterminated)
{
    char *buf = malloc(size + 70000);
    size_t len = 0;

    if (buf == NULL) {
        abort();
    }
    while (len < size) {
        uint64_t kind = rnd() % 20;
        if (kind == 0) {
            size_t n = 1000 + rnd() % 60000, i;
            for (i = 0; i < n; i++) {
                buf[len++] = (char)('a' + rnd() % 26);
            }
        } else if (kind == 1) {
            /* an empty record */
        } else {
            size_t n = 1 + rnd() % 8, i;
            for (i = 0; i < n; i++) {
                const char *w = words[rnd() % (sizeof(words) / sizeof(words[0]))];
                memcpy(buf + len, w, strlen(w));
                len += strlen(w);
                buf[len++] = i % 3 == 0 ? '\t' : i % 3 == 1 ? ',' : ' ';
                if (with_nul && rnd() % 30 == 0) {
                    buf[len++] = '\0';
                }
            }
        }
        buf[len++] = '\n';
    }
    if (unterminated) {
        memcpy(buf + len, "last record, no newline", 23);
        len += 23;
    }
    tu_write_file(path, buf, len);
    free(buf);
}

char *tu_dir;

int
tu_group_setup(void **state)
{
    (void)state;
    tu_dir = tu_mkdtemp();
    return 0;
}

int
tu_group_teardown(void **state)
{
    (void)state;
    tu_rmrf(tu_dir);
    free(tu_dir);
    tu_dir = NULL;
    return 0;
}

void
tu_gzip_member(FILE *f, const void *data, size_t len, const struct tu_member *o)
{
    unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0x78, 0x56, 0x34, 0x12, 0, 3};
    unsigned char out[65536], trailer[8];
    static const unsigned char extra[] = {10, 0, 'A', 'B', 6, 0, 'h', 'e', 'l', 'l', 'o', '!'};
    static const char name[] = "records.txt", comment[] = "made by hand for a test";
    uLong hcrc, crc = crc32(0, Z_NULL, 0);
    z_stream z;
    size_t pos = 0;
    int flush, i;

    head[3] = (unsigned char)((o->hcrc ? 2 : 0) | (o->extra ? 4 : 0) | (o->name ? 8 : 0) |
                              (o->comment ? 16 : 0));
    fwrite(head, 1, sizeof(head), f);
    hcrc = crc32(crc32(0, Z_NULL, 0), head, sizeof(head));
    if (o->extra) {
        fwrite(extra, 1, sizeof(extra), f);
        hcrc = crc32(hcrc, extra, sizeof(extra));
    }
    if (o->name) {
        fwrite(name, 1, sizeof(name), f);
        hcrc = crc32(hcrc, (const unsigned char *)name, sizeof(name));
    }
    if (o->comment) {
        fwrite(comment, 1, sizeof(comment), f);
        hcrc = crc32(hcrc, (const unsigned char *)comment, sizeof(comment));
    }
    if (o->hcrc) {
        unsigned v = (unsigned)(hcrc & 0xffff) ^ (o->bad_hcrc ? 1u : 0u);
        fputc((int)(v & 0xff), f);
        fputc((int)(v >> 8), f);
    }
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, o->level > 0 ? o->level : 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        abort();
    }
    do {
        size_t step = o->flush_every > 0 ? o->flush_every : len;
        if (step > len - pos) {
            step = len - pos;
        }
        z.next_in = (unsigned char *)data + pos;
        z.avail_in = (uInt)step;
        pos += step;
        flush = pos == len && !o->sync_then_finish ? Z_FINISH
                : o->flush_every > 0               ? o->flush
                : o->sync_then_finish              ? Z_SYNC_FLUSH
                                                   : Z_NO_FLUSH;
        do {
            z.next_out = out;
            z.avail_out = sizeof(out);
            deflate(&z, flush);
            fwrite(out, 1, sizeof(out) - z.avail_out, f);
        } while (z.avail_out == 0);
    } while (pos < len);
    if (o->sync_then_finish) {
        /* Go's compress/flate and others end this way: the last data block is not final, an
         * empty final block follows it. */
        z.next_in = NULL;
        z.avail_in = 0;
        do {
            z.next_out = out;
            z.avail_out = sizeof(out);
            deflate(&z, Z_FINISH);
            fwrite(out, 1, sizeof(out) - z.avail_out, f);
        } while (z.avail_out == 0);
    }
    deflateEnd(&z);
    crc = crc32(crc, data, (uInt)len);
    for (i = 0; i < 4; i++) {
        trailer[i] = (unsigned char)(crc >> (8 * i));
        trailer[4 + i] = (unsigned char)(len >> (8 * i));
    }
    fwrite(trailer, 1, sizeof(trailer), f);
}

void
tu_vsh(const char *dir, int expect, const char *fmt, va_list ap)
{
    char cmd[8192], full[9000];
    char *err = NULL;
    int rc;

    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    if (dir != NULL) {
        snprintf(full, sizeof(full), "cd '%s' && %s", dir, cmd);
    } else {
        snprintf(full, sizeof(full), "%s", cmd);
    }
    rc = tu_run(full, &err);
    if (rc != expect) {
        /* stderr first and the command without the shell functions in front: CMocka cuts a
         * long message, and the reason should survive. */
        const char *shown = cmd;

        if (strncmp(cmd, TU_SH_WAIT, strlen(TU_SH_WAIT)) == 0) {
            shown += strlen(TU_SH_WAIT);
        }
        fail_msg("exit %d, expected %d\nstderr: %s\ncommand: %s", rc, expect,
                 err != NULL ? err : "", shown);
    }
    free(err);
}

void
tu_sh(int expect, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tu_vsh(tu_dir, expect, fmt, ap);
    va_end(ap);
}

/* The command (fmt, ap) prefixed with a cd to tu_dir, run as tu_run. */
static int
vrun_here(char **err, const char *prefix, const char *fmt, va_list ap)
{
    char cmd[8192], full[9000];

    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    snprintf(full, sizeof(full), "cd '%s' && %s%s", tu_dir, prefix, cmd);
    return tu_run(full, err);
}

int
tu_run_here(char **err, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vrun_here(err, "", fmt, ap);
    va_end(ap);
    return rc;
}

#ifdef TRANCHE_BIN
int
tu_tranche(char **err, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vrun_here(err, TRANCHE_BIN " ", fmt, ap);
    va_end(ap);
    return rc;
}
#endif

void
tu_assert_contains(const char *haystack, const char *needle)
{
    if (haystack == NULL || strstr(haystack, needle) == NULL) {
        fail_msg("expected to find \"%s\" in:\n%s", needle, haystack != NULL ? haystack : "(null)");
    }
}

double
tu_seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

const char *
tu_join(const char *dir, const char *name)
{
    static char bufs[4][PATH_MAX];
    static int next;
    char *buf = bufs[next++ % 4];

    if (snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX) {
        abort();
    }
    return buf;
}

const char *
tu_write_job(const char *file, const char *fmt, ...)
{
    static char path[1024];
    char body[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", tu_dir, file);
    tu_write_file(path, body, strlen(body));
    return path;
}

int
tu_thin(void)
{
#ifdef TRANCHE_SANITIZED
    static unsigned long n;

    return n++ % TU_THIN_EVERY == 0;
#else
    return 1;
#endif
}

const struct framing *
tu_lines_of(unsigned char delimiter)
{
    static struct framing f;

    framing_default(&f);
    f.delim[0] = delimiter;
    framing_finish(&f);
    return &f;
}
