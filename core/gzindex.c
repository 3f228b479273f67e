/* core/gzindex.c: writing, finding and loading access-point indexes of gzip files. */
#include "gzindex.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "config.h"
#include "grow.h"
#include "io.h"
#include "paths.h"

#define MAGIC "TRANCHE GZINDEX\n"
#define END_MAGIC "GZINDEX\n"
#define VERSION 3 /* 3: each point carries a fingerprint of the compressed bytes where it is */
#define HEADER_SIZE 64
#define ENTRY_SIZE 48
#define FOOTER_SIZE 40
#define FP_AT 44  /* where a point's entry keeps its fingerprint */
#define FP_LEN 32 /* compressed bytes a fingerprint covers */

struct gz_index_writer {
    char *gz_path; /* the gzip file, read again for the points' fingerprints */
    int in_cache;  /* the index goes into the cache: the cache is trimmed after it */
    int fd;
    char *tmp_path;
    char *path;
    uint64_t pos; /* bytes written so far */
    uint32_t windows_crc;
    unsigned char header[HEADER_SIZE];
    struct gz_point *points;
    size_t n, cap;
};

static void
make_header(unsigned char *h, const struct stat *st, uint64_t spacing)
{
    memset(h, 0, HEADER_SIZE);
    memcpy(h, MAGIC, 16);
    io_put_le(h + 16, VERSION, 4);
    io_put_le(h + 20, HEADER_SIZE, 4);
    io_put_le(h + 24, (uint64_t)st->st_size, 8);
    io_put_le(h + 32, (uint64_t)st->st_mtim.tv_sec, 8);
    io_put_le(h + 40, (uint64_t)st->st_mtim.tv_nsec, 8);
    io_put_le(h + 48, spacing, 8);
}

static void
encode_point(unsigned char *e, const struct gz_point *pt)
{
    memset(e, 0, ENTRY_SIZE);
    io_put_le(e, pt->in, 8);
    io_put_le(e + 8, pt->out, 8);
    io_put_le(e + 16, pt->member_out, 8);
    io_put_le(e + 24, pt->window_at, 8);
    io_put_le(e + 32, pt->crc, 4);
    io_put_le(e + 36, pt->window_len, 4);
    e[40] = pt->bits;
    e[41] = pt->at_header;
    e[42] = pt->prev_byte;
}

static void
decode_point(const unsigned char *e, struct gz_point *pt)
{
    memset(pt, 0, sizeof(*pt));
    pt->in = io_get_le(e, 8);
    pt->out = io_get_le(e + 8, 8);
    pt->member_out = io_get_le(e + 16, 8);
    pt->window_at = io_get_le(e + 24, 8);
    pt->crc = (uint32_t)io_get_le(e + 32, 4);
    pt->window_len = (uint32_t)io_get_le(e + 36, 4);
    pt->bits = e[40];
    pt->at_header = e[41];
    pt->prev_byte = e[42];
}

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ull;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static char *
cache_dir(void)
{
    const char *env = getenv("TRANCHE_CACHE_DIR");
    char *dir = NULL;

    if (env != NULL && *env != '\0') {
        return strdup(env);
    }
    env = getenv("XDG_CACHE_HOME");
    if (env != NULL && *env == '/') {
        return asprintf(&dir, "%s/tranche", env) < 0 ? NULL : dir;
    }
    env = getenv("HOME");
    if (env != NULL && *env == '/') {
        return asprintf(&dir, "%s/.cache/tranche", env) < 0 ? NULL : dir;
    }
    return NULL;
}

int
gz_index_paths(const char *gz_path, char **beside, char **cached, struct error *err)
{
    char resolved[PATH_MAX];
    const char *base = strrchr(gz_path, '/');
    char *dir;

    *beside = *cached = NULL;
    if (asprintf(beside, "%s%s", gz_path, GZ_INDEX_SUFFIX) < 0) {
        *beside = NULL;
        return error_set(err, "out of memory");
    }
    dir = cache_dir();
    if (dir != NULL && realpath(gz_path, resolved) != NULL) {
        base = base != NULL ? base + 1 : gz_path;
        if (asprintf(cached, "%s/%s-%016" PRIx64 "%s", dir, base, fnv1a(resolved),
                     GZ_INDEX_SUFFIX) < 0) {
            *cached = NULL;
        }
    }
    free(dir);
    return 0;
}

/* The CRC-32 of the windows, bytes [HEADER_SIZE, end) of the index; a read error gives a CRC
 * that will not match. */
static uint32_t
windows_crc(int fd, uint64_t end)
{
    unsigned char buf[1u << 16];
    uint64_t pos = HEADER_SIZE;
    uint32_t crc = 0;

    while (pos < end) {
        size_t n = end - pos < sizeof(buf) ? (size_t)(end - pos) : sizeof(buf);
        if (io_pread_full(fd, buf, n, pos) != (ssize_t)n) {
            return ~crc;
        }
        crc = codec_crc32(crc, buf, n);
        pos += n;
    }
    return crc;
}

/* The fingerprint of point pt in the gzip file open on gz_fd: the CRC-32 of the compressed bytes
 * where it starts, so that an index is not used with a file whose size and modification time are
 * the same but whose bytes are not (it would make a sound file look corrupt). */
static int
fingerprint(int gz_fd, const struct gz_point *pt, uint32_t *out)
{
    unsigned char buf[FP_LEN];
    ssize_t n = io_pread_full(gz_fd, buf, FP_LEN, pt->in > 0 ? pt->in - 1 : 0);

    if (n < 0) {
        return -1;
    }
    *out = codec_crc32(0, buf, (size_t)n);
    return 0;
}

/* An index file being loaded, and what has been read of it. */
struct loading {
    int fd;
    unsigned char header[HEADER_SIZE];
    unsigned char footer[FOOTER_SIZE];
    uint64_t table_at; /* where the table of points begins */
    uint64_t n;        /* points */
    uint64_t usize;
    unsigned char *table;
};

/* Reads the index's header and footer and checks them against the gzip file whose stat is *st.
 * Returns NULL, or why the index cannot be used. */
static const char *
check_frame(struct loading *l, const struct stat *st)
{
    unsigned char want[HEADER_SIZE];
    struct stat ist;
    uint64_t size;

    make_header(want, st, 0);
    if (fstat(l->fd, &ist) != 0 || ist.st_size < HEADER_SIZE + FOOTER_SIZE ||
        io_pread_full(l->fd, l->header, HEADER_SIZE, 0) != HEADER_SIZE ||
        io_pread_full(l->fd, l->footer, FOOTER_SIZE, (uint64_t)ist.st_size - FOOTER_SIZE) !=
            FOOTER_SIZE ||
        memcmp(l->header, MAGIC, 16) != 0 || memcmp(l->footer + 32, END_MAGIC, 8) != 0) {
        return "it is not a tranche index, or is cut short";
    }
    if ((uint32_t)io_get_le(l->header + 16, 4) != VERSION) {
        return "it was written by another version of tranche";
    }
    if (memcmp(l->header + 24, want + 24, 24) != 0) {
        return "the gzip file changed since (size or modification time)";
    }
    size = (uint64_t)ist.st_size;
    l->table_at = io_get_le(l->footer, 8);
    l->n = io_get_le(l->footer + 8, 8);
    l->usize = io_get_le(l->footer + 16, 8);
    if (l->n == 0 || l->n > size / ENTRY_SIZE || l->table_at < HEADER_SIZE ||
        l->table_at + l->n * ENTRY_SIZE + FOOTER_SIZE != size) {
        return "its table is damaged";
    }
    return NULL;
}

/* Reads the table into l->table, makes room for its points in idx->points, and checks the
 * CRC-32 of the header and table: *why is NULL, or why the index cannot be used. */
static int
read_table(struct loading *l, struct gz_index *idx, const char **why, struct error *err)
{
    size_t len = (size_t)(l->n * ENTRY_SIZE);
    uint32_t crc;

    *why = NULL;
    l->table = malloc(len);
    idx->points = calloc(l->n, sizeof(*idx->points));
    if (l->table == NULL || idx->points == NULL) {
        return error_set(err, "out of memory for an index of %" PRIu64 " points", l->n);
    }
    crc = codec_crc32(0, l->header, HEADER_SIZE);
    if (io_pread_full(l->fd, l->table, len, l->table_at) != (ssize_t)len ||
        codec_crc32(codec_crc32(crc, l->table, len), l->footer, 24) !=
            (uint32_t)io_get_le(l->footer + 24, 4)) {
        *why = "its CRC-32 does not match (damaged)";
    }
    return 0;
}

/* Whether pt, the point after prev (NULL for the first), fits the index and the gzip file of
 * gz_size bytes. */
static int
point_ok(const struct loading *l, uint64_t gz_size, const struct gz_point *pt,
         const struct gz_point *prev)
{
    if (pt->bits > 7 || pt->window_len > GZ_WINDOW || pt->out > l->usize || pt->in > gz_size ||
        pt->member_out > pt->out || pt->window_len > pt->out - pt->member_out ||
        pt->window_at < HEADER_SIZE || pt->window_at + pt->window_len > l->table_at) {
        return 0;
    }
    if (pt->at_header &&
        (pt->bits != 0 || pt->window_len != 0 || pt->crc != 0 || pt->member_out != pt->out)) {
        return 0;
    }
    if (prev == NULL) {
        return pt->in == 0 && pt->out == 0 && pt->at_header; /* the start of the file */
    }
    return pt->out > prev->out && pt->in >= prev->in;
}

/* Decodes the table into idx->points. Returns NULL, or why the index cannot be used. */
static const char *
decode_points(const struct loading *l, const struct stat *st, struct gz_index *idx)
{
    uint64_t i;

    for (i = 0; i < l->n; i++) {
        struct gz_point *pt = &idx->points[i];
        decode_point(l->table + i * ENTRY_SIZE, pt);
        if (!point_ok(l, (uint64_t)st->st_size, pt, i > 0 ? pt - 1 : NULL)) {
            return "its points are inconsistent (damaged)";
        }
    }
    return NULL;
}

/* Checks each point's fingerprint against the gzip file. Returns NULL, or why the index cannot
 * be used. */
static const char *
check_fingerprints(const struct loading *l, int gz_fd, const struct gz_index *idx)
{
    uint32_t fp;
    uint64_t i;

    for (i = 0; i < l->n; i++) {
        if (fingerprint(gz_fd, &idx->points[i], &fp) != 0) {
            return "the gzip file cannot be read to check it";
        }
        if (fp != (uint32_t)io_get_le(l->table + i * ENTRY_SIZE + FP_AT, 4)) {
            return "it does not match the gzip file's content (the file was rewritten with the "
                   "same size and modification time)";
        }
    }
    return NULL;
}

/* Whether the index file open on fd may be trusted: owned by this user or by the gzip file's
 * owner, and not writable by others. Returns NULL, or why not. */
static const char *
check_owner(int fd, const struct stat *st)
{
    struct stat ist;

    if (fstat(fd, &ist) != 0) {
        return "it cannot be examined";
    }
    if (!S_ISREG(ist.st_mode)) {
        return "it is not a regular file";
    }
    if (ist.st_uid != geteuid() && ist.st_uid != st->st_uid) {
        return "it belongs to another user than you or the gzip file's owner";
    }
    if ((ist.st_mode & S_IWOTH) != 0) {
        return "anyone may write to it";
    }
    return NULL;
}

/* Reads and checks the whole index open in l, its points into idx->points: *why is NULL when it
 * can be used, else why not. */
static int
read_index(struct loading *l, const struct stat *st, int gz_fd, struct gz_index *idx,
           const char **why, struct error *err)
{
    *why = check_owner(l->fd, st);
    if (*why != NULL) {
        return 0;
    }
    *why = check_frame(l, st);
    if (*why != NULL) {
        return 0;
    }
    if (read_table(l, idx, why, err) != 0) {
        return -1;
    }
    if (*why == NULL) {
        *why = decode_points(l, st, idx);
    }
    if (*why == NULL && windows_crc(l->fd, l->table_at) != (uint32_t)io_get_le(l->footer + 28, 4)) {
        *why = "the CRC-32 of its windows does not match (damaged)";
    }
    if (*why == NULL) {
        *why = check_fingerprints(l, gz_fd, idx);
    }
    return 0;
}

/* Loads one candidate index file into idx: *found = 0 when it is absent or cannot be used (note
 * says why, when there is one that cannot be used); idx is left empty then, and on failure. */
static int
load_one(const char *path, const struct stat *st, int gz_fd, int touch, struct gz_index *idx,
         int *found, char *note, size_t note_size, struct error *err)
{
    struct loading l;
    const char *why = NULL;
    int loaded = 0, rc = -1;

    memset(&l, 0, sizeof(l));
    /* O_NONBLOCK: a FIFO planted where an index goes must not block the run (it is refused as
     * not a regular file below). */
    l.fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (l.fd < 0) {
        *found = 0;
        return 0;
    }
    if (read_index(&l, st, gz_fd, idx, &why, err) != 0) {
        goto out;
    }
    if (why != NULL) {
        if (note != NULL && note_size > 0) {
            snprintf(note, note_size, "ignoring the index %s: %s", path, why);
        }
        rc = 0;
        goto out;
    }
    idx->path = strdup(path);
    if (idx->path == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    idx->n = (size_t)l.n;
    idx->usize = l.usize;
    idx->spacing = io_get_le(l.header + 48, 8);
    if (touch) {
        futimens(l.fd, NULL); /* used now: the cache keeps what is used */
    }
    if (fstat(l.fd, &idx->st) != 0) {
        error_errno(err, "cannot stat the index %s", path);
        goto out;
    }
    loaded = 1;
    rc = 0;
out:
    free(l.table);
    if (l.fd >= 0) {
        close(l.fd);
    }
    if (!loaded) {
        gz_index_release(idx);
    }
    if (rc == 0) {
        *found = loaded;
    }
    return rc;
}

int
gz_index_load(const char *gz_path, const struct stat *st, struct gz_index *idx, int *found,
              char *note, size_t note_size, struct error *err)
{
    char *beside, *cached;
    int rc, gz_fd;

    memset(idx, 0, sizeof(*idx));
    *found = 0;
    if (note != NULL && note_size > 0) {
        note[0] = '\0';
    }
    gz_fd = open(gz_path, O_RDONLY | O_CLOEXEC);
    if (gz_fd < 0) {
        return 0; /* (the caller has it open: this is a race, and no index is then simplest) */
    }
    if (gz_index_paths(gz_path, &beside, &cached, err) != 0) {
        close(gz_fd);
        return -1;
    }
    rc = cached != NULL ? load_one(cached, st, gz_fd, 1, idx, found, note, note_size, err) : 0;
    if (rc == 0 && !*found) {
        rc = load_one(beside, st, gz_fd, 0, idx, found, note, note_size, err);
    }
    free(beside);
    free(cached);
    close(gz_fd);
    return rc;
}

int
gz_index_open(const struct gz_index *idx, struct error *err)
{
    struct stat now;
    int fd = open(idx->path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        return error_errno(err, "cannot open the index %s", idx->path);
    }
    if (fstat(fd, &now) != 0 || now.st_dev != idx->st.st_dev || now.st_ino != idx->st.st_ino ||
        now.st_size != idx->st.st_size || now.st_mtim.tv_sec != idx->st.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != idx->st.st_mtim.tv_nsec) {
        close(fd);
        return error_set(err, "the index %s changed during the job", idx->path);
    }
    return fd;
}

int
gz_index_window(const struct gz_index *idx, int fd, size_t k, unsigned char *buf, struct error *err)
{
    const struct gz_point *pt = &idx->points[k];
    ssize_t n;

    if (pt->window_len == 0) {
        return 0;
    }
    n = io_pread_full(fd, buf, pt->window_len, pt->window_at);
    if (n < 0) {
        return error_errno(err, "cannot read the index %s at byte offset %" PRIu64, idx->path,
                           pt->window_at);
    }
    if ((size_t)n < pt->window_len) {
        return error_set(err,
                         "the index %s ends before byte offset %" PRIu64 " (was it "
                         "changed during the job?)",
                         idx->path, pt->window_at + pt->window_len);
    }
    return 0;
}

void
gz_index_release(struct gz_index *idx)
{
    free(idx->points);
    free(idx->path);
    memset(idx, 0, sizeof(*idx));
}

/* Opens the temporary file for final path `path`; 0, or -1 with errno set. */
static int
open_tmp(struct gz_index_writer *w, const char *path)
{
    const char *base = strrchr(path, '/');
    char *dir = path_dirname(path), *prefix = NULL;

    base = base != NULL ? base + 1 : path;
    if (dir != NULL && asprintf(&prefix, "%s.tmp-", base) >= 0) {
        path_remove_stale(dir, prefix, ""); /* a killed run's */
        free(prefix);
    }
    free(dir);
    free(w->tmp_path);
    if (asprintf(&w->tmp_path, "%s.tmp-%ld", path, (long)getpid()) < 0) {
        w->tmp_path = NULL;
        errno = ENOMEM;
        return -1;
    }
    free(w->path);
    w->path = strdup(path);
    if (w->path == NULL) {
        errno = ENOMEM;
        return -1;
    }
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        return -1;
    }
    path_hold(w->fd);
    return 0;
}

/* Opens the writer's temporary file in the cache (made if need be). */
static int
open_in_cache(struct gz_index_writer *w, const char *cached, struct error *err)
{
    char *dir = path_dirname(cached);
    int rc = dir != NULL ? path_mkdirs(dir, err) : error_set(err, "out of memory");

    free(dir);
    if (rc != 0) {
        return -1;
    }
    if (open_tmp(w, cached) != 0) {
        return error_errno(err, "cannot write the index %s", w->tmp_path);
    }
    w->in_cache = 1;
    return 0;
}

/* Where the index goes: the cache (the default), or beside the file when asked (to share it);
 * each falls back to the other. */
static int
open_place(struct gz_index_writer *w, const char *beside, const char *cached, int want_beside,
           struct error *err)
{
    if (!want_beside && cached != NULL && open_in_cache(w, cached, err) == 0) {
        return 0;
    }
    if (open_tmp(w, beside) == 0) {
        return 0;
    }
    if (want_beside && cached != NULL && open_in_cache(w, cached, err) == 0) {
        return 0;
    }
    if (cached == NULL) {
        return error_errno(err,
                           "cannot write an index beside %s, and there is no cache directory "
                           "(set TRANCHE_CACHE_DIR or HOME)",
                           w->gz_path);
    }
    return error_prefix(err, "cannot write an index for %s beside it or in the cache", w->gz_path);
}

int
gz_index_writer_new(const char *gz_path, const struct stat *st, uint64_t spacing, int beside,
                    struct gz_index_writer **out, struct error *err)
{
    struct gz_index_writer *w = calloc(1, sizeof(*w));
    char *beside_path = NULL, *cached = NULL;
    int rc = -1;

    if (w == NULL) {
        return error_set(err, "out of memory");
    }
    w->fd = -1;
    w->gz_path = strdup(gz_path);
    if (w->gz_path == NULL) {
        free(w);
        return error_set(err, "out of memory");
    }
    if (gz_index_paths(gz_path, &beside_path, &cached, err) != 0) {
        free(w->gz_path);
        free(w);
        return -1;
    }
    if (open_place(w, beside_path, cached, beside, err) != 0) {
        goto out;
    }
    make_header(w->header, st, spacing);
    if (io_write_all(w->fd, w->header, HEADER_SIZE) != 0) {
        error_errno(err, "cannot write the index %s", w->tmp_path);
        goto out;
    }
    w->pos = HEADER_SIZE;
    *out = w;
    w = NULL;
    rc = 0;
out:
    free(beside_path);
    free(cached);
    gz_index_writer_abort(w);
    return rc;
}

int
gz_index_writer_add(void *arg, const struct gz_point *pt, const unsigned char *window,
                    struct error *err)
{
    struct gz_index_writer *w = arg;

    if (GROW(w->points, w->cap, w->n + 1) != 0) {
        return error_set(err, "out of memory for the index");
    }
    w->points[w->n] = *pt;
    w->points[w->n].window_at = w->pos;
    if (pt->window_len > 0 && io_write_all(w->fd, window, pt->window_len) != 0) {
        return error_errno(err, "cannot write the index %s", w->tmp_path);
    }
    w->pos += pt->window_len;
    w->windows_crc = codec_crc32(w->windows_crc, window, pt->window_len);
    w->n++;
    return 0;
}

/* The cache's size bound: $TRANCHE_CACHE_SIZE (a size such as 2GiB), else GZ_INDEX_CACHE_SIZE. */
static uint64_t
cache_limit(void)
{
    const char *text = getenv("TRANCHE_CACHE_SIZE");
    uint64_t limit;

    if (text != NULL && config_parse_size(text, &limit) == 0) {
        return limit;
    }
    return GZ_INDEX_CACHE_SIZE;
}

struct cached {
    char *name;
    struct timespec used; /* mtime: a run that uses an index touches it */
    uint64_t size;
};

static int
older_first(const void *a, const void *b)
{
    const struct cached *x = a, *y = b;

    if (x->used.tv_sec != y->used.tv_sec) {
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    }
    return x->used.tv_nsec < y->used.tv_nsec ? -1 : x->used.tv_nsec > y->used.tv_nsec;
}

/* This user's indexes in the cache directory open as d, and their total size. */
static size_t
list_cache(DIR *d, struct cached **out, size_t *cap, uint64_t *total)
{
    size_t n = 0, len, suffix = strlen(GZ_INDEX_SUFFIX);
    struct dirent *e;
    struct stat st;

    *total = 0;
    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        if (len <= suffix || strcmp(e->d_name + len - suffix, GZ_INDEX_SUFFIX) != 0 ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid() || GROW(*out, *cap, n + 1) != 0 ||
            ((*out)[n].name = strdup(e->d_name)) == NULL) {
            continue;
        }
        (*out)[n].used = st.st_mtim;
        (*out)[n].size = (uint64_t)st.st_size;
        *total += (uint64_t)st.st_size;
        n++;
    }
    return n;
}

/* Removes the least recently used indexes of the cache holding `kept` (just written, never
 * removed) until the cache is within its bound. A failure only leaves the cache larger. */
static void
trim_cache(const char *kept)
{
    const char *base = strrchr(kept, '/');
    char *dir = path_dirname(kept);
    DIR *d = dir != NULL ? opendir(dir) : NULL;
    struct cached *list = NULL;
    uint64_t total, limit = cache_limit();
    size_t n = 0, cap = 0, i;

    base = base != NULL ? base + 1 : kept;
    if (d != NULL) {
        n = list_cache(d, &list, &cap, &total);
        qsort(list, n, sizeof(*list), older_first);
        for (i = 0; i < n && total > limit; i++) {
            if (strcmp(list[i].name, base) != 0 && unlinkat(dirfd(d), list[i].name, 0) == 0) {
                total -= list[i].size;
            }
        }
        closedir(d);
    }
    for (i = 0; i < n; i++) {
        free(list[i].name);
    }
    free(list);
    free(dir);
}

/* The table of points, each with its fingerprint of the gzip file. */
static int
encode_table(const struct gz_index_writer *w, unsigned char *table, struct error *err)
{
    int gz_fd = open(w->gz_path, O_RDONLY | O_CLOEXEC);
    uint32_t fp;
    size_t i;

    if (gz_fd < 0) {
        return error_errno(err, "cannot read %s again for its index", w->gz_path);
    }
    for (i = 0; i < w->n; i++) {
        encode_point(table + i * ENTRY_SIZE, &w->points[i]);
        if (fingerprint(gz_fd, &w->points[i], &fp) != 0) {
            error_errno(err, "cannot read %s again for its index", w->gz_path);
            close(gz_fd);
            return -1;
        }
        io_put_le(table + i * ENTRY_SIZE + FP_AT, fp, 4);
    }
    close(gz_fd);
    return 0;
}

size_t
gz_index_writer_points(const struct gz_index_writer *w)
{
    return w->n;
}

int
gz_index_writer_commit(struct gz_index_writer *w, uint64_t usize, char **path, struct error *err)
{
    unsigned char footer[FOOTER_SIZE], *table = NULL;
    uint32_t crc;
    int rc = -1;

    table = malloc(w->n * ENTRY_SIZE + 1);
    if (table == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    if (encode_table(w, table, err) != 0) {
        goto out;
    }
    memset(footer, 0, sizeof(footer));
    io_put_le(footer, w->pos, 8);
    io_put_le(footer + 8, w->n, 8);
    io_put_le(footer + 16, usize, 8);
    crc = codec_crc32(codec_crc32(0, w->header, HEADER_SIZE), table, w->n * ENTRY_SIZE);
    io_put_le(footer + 24, codec_crc32(crc, footer, 24), 4);
    io_put_le(footer + 28, w->windows_crc, 4);
    memcpy(footer + 32, END_MAGIC, 8);
    if (io_write_all(w->fd, table, w->n * ENTRY_SIZE) != 0 ||
        io_write_all(w->fd, footer, FOOTER_SIZE) != 0) {
        error_errno(err, "cannot write the index %s", w->tmp_path);
        goto out;
    }
    if (close(w->fd) != 0) {
        w->fd = -1;
        error_errno(err, "cannot write the index %s", w->tmp_path);
        goto out;
    }
    w->fd = -1;
    if (rename(w->tmp_path, w->path) != 0) {
        error_errno(err, "cannot rename %s to %s", w->tmp_path, w->path);
        goto out;
    }
    free(w->tmp_path);
    w->tmp_path = NULL;
    if (w->in_cache) {
        trim_cache(w->path);
    }
    if (path != NULL) {
        *path = w->path;
        w->path = NULL;
    }
    rc = 0;
out:
    free(table);
    gz_index_writer_abort(w);
    return rc;
}

void
gz_index_writer_abort(struct gz_index_writer *w)
{
    if (w == NULL) {
        return;
    }
    if (w->fd >= 0) {
        close(w->fd);
    }
    if (w->tmp_path != NULL) {
        unlink(w->tmp_path);
    }
    free(w->tmp_path);
    free(w->path);
    free(w->gz_path);
    free(w->points);
    free(w);
}
