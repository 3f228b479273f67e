/* core/input.c: opening the inputs, telling plain from BGZF from other gzip, and planning. */
#include "input.h"

#include "dupes.h"
#include "grow.h"
#include "gzread.h"
#include "io.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Index points no closer than this: each costs 32 KiB of index. */
#define MIN_INDEX_SPACING (256u << 10)

/* Whether the input is to be read as gzip: by the job's word, or (auto) by its magic bytes. */
static int
is_gzip(const struct job *job, int fd)
{
    unsigned char magic[2];

    if (job->input_compression != CONFIG_COMPRESSION_AUTO) {
        return job->input_compression == CONFIG_COMPRESSION_GZIP;
    }
    return pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

/*
 * Works out how a gzip input is read: BGZF (its blocks are indexed from the headers), through
 * its access-point index, or as a stream. A partition that starts at a block or an access point
 * finds its first record by itself only for lines of one byte and FASTQ (`syncs`); a CSV row's
 * quote state and a delimiter of several bytes are cut in order by the parent as it decodes, from
 * a stream. Returns 0, ERR_FAILED for corrupt BGZF, or ERR_INVALID
 * (no memory to load the index).
 */
static int
classify_gzip(struct input *in, int fd, int use_index, int syncs, struct error *err)
{
    char note[1200] = "";
    int is_bgzf, found = 0;

    if (bgzf_index_build(fd, in->path, (uint64_t)in->st.st_size, &in->bgzf, &is_bgzf, err) != 0) {
        return ERR_FAILED;
    }
    if (is_bgzf && syncs) {
        in->kind = INPUT_BGZF;
        return 0;
    }
    if (is_bgzf) {
        bgzf_index_release(&in->bgzf);
    }
    if (use_index && syncs && !is_bgzf &&
        gz_index_load(in->path, &in->st, &in->gzi, &found, note, sizeof(note), err) != 0) {
        return ERR_INVALID;
    }
    if (found && in->gzi.usize == 0) {
        /* Nothing to split: decoding it here is cheap, and checks it. */
        gz_index_release(&in->gzi);
        found = 0;
    }
    if (found) {
        in->kind = INPUT_GZINDEX;
        return 0;
    }
    if (note[0] != '\0') {
        fprintf(stderr, "tranche: %s; it will be written again\n", note);
    }
    in->kind = INPUT_STREAM;
    return 0;
}

/* What a file that is not a regular file is, for messages. */
static const char *
file_type(mode_t mode)
{
    if (S_ISDIR(mode)) {
        return "a directory";
    }
    if (S_ISFIFO(mode)) {
        return "a FIFO";
    }
    if (S_ISCHR(mode)) {
        return "a character device";
    }
    if (S_ISBLK(mode)) {
        return "a block device";
    }
    if (S_ISSOCK(mode)) {
        return "a socket";
    }
    return "not a file";
}

static int
check_type(const char *path, mode_t mode, struct error *err)
{
    if (S_ISREG(mode)) {
        return 0;
    }
    error_set(err, "input %s is not a regular file (it is %s); tranche reads regular files only",
              path, file_type(mode));
    return ERR_INVALID;
}

/* Refuses a file whose size does not say what it holds: tranche would plan it as empty (or cut
 * it short) and succeed with the wrong output. Reading such files as streams is for later. */
static int
check_size_is_content(const struct input *in, int fd, struct error *err)
{
    struct statfs fs;
    const char *name = fstatfs(fd, &fs) == 0 ? path_virtual_fs((long)fs.f_type) : NULL;
    char byte;

    if (name != NULL) {
        error_set(err,
                  "input %s is a %s file, whose size does not tell what it holds; tranche reads "
                  "only files whose size it can trust (copy it to a regular file first)",
                  in->path, name);
        return ERR_INVALID;
    }
    if (in->st.st_size == 0 && pread(fd, &byte, 1, 0) == 1) {
        error_set(err,
                  "input %s reports a size of 0 but has content (a virtual or FUSE file system "
                  "does this); tranche reads only files whose size it can trust (copy it to a "
                  "regular file first)",
                  in->path);
        return ERR_INVALID;
    }
    return 0;
}

/*
 * Opens path read-only: O_NONBLOCK, so that a FIFO put in its place meanwhile cannot block the
 * open (it is refused by the caller's checks), then blocking again for the reads. Returns the
 * descriptor and its stat in *st, or -1 with err set.
 */
static int
open_read(const char *path, struct stat *st, struct error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), flags;

    if (fd < 0) {
        return error_errno(err, "cannot open input %s", path);
    }
    if (fstat(fd, st) != 0 || (flags = fcntl(fd, F_GETFL)) < 0 ||
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        error_errno(err, "cannot read input %s", path);
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Opens input i, which stat found to be a regular file, checks it again through the descriptor
 * and classifies it. The descriptor is closed again: the input is opened where it is read
 * (input_open), so that a job's descriptors do not grow with its inputs.
 */
/* Opens input in: by its path, or standard input's kept descriptor (a duplicate); *st set. */
static int
open_input(const struct input *in, struct stat *st, struct error *err)
{
    int fd;

    if (!in->is_stdin) {
        return open_read(in->path, st, err);
    }
    fd = fcntl(in->stdin_fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (fd < 0 || fstat(fd, st) != 0) {
        error_errno(err, "cannot read standard input");
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

/* Standard input that is not a file: its first bytes tell gzip from plain (they are read again
 * first, from in->head); it is a stream, planned as it is read. */
static int
classify_sequential(const struct job *job, struct input *in, int fd, struct error *err)
{
    ssize_t n = io_read_full(fd, in->head, sizeof(in->head));

    if (n < 0) {
        error_errno(err, "cannot read standard input");
        return ERR_INVALID;
    }
    in->head_len = (size_t)n;
    in->gzip = job->input_compression == CONFIG_COMPRESSION_GZIP ||
               (job->input_compression == CONFIG_COMPRESSION_AUTO && n == 2 &&
                in->head[0] == 0x1f && in->head[1] == 0x8b);
    in->kind = INPUT_STREAM;
    return 0;
}

static int
open_one(const struct job *job, const struct stat *out_st, struct input *in, size_t i,
         struct error *err)
{
    struct stat st;
    int fd = open_input(in, &st, err), rc = ERR_INVALID;

    if (fd < 0) {
        return ERR_INVALID;
    }
    if (!in->sequential && check_type(in->path, st.st_mode, err) != 0) {
        goto out;
    }
    if (st.st_dev != in->st.st_dev || st.st_ino != in->st.st_ino) {
        error_set(err, "input %s was replaced by another file while it was being opened", in->path);
        goto out;
    }
    in->st = st;
    if (out_st != NULL && st.st_dev == out_st->st_dev && st.st_ino == out_st->st_ino) {
        error_set(err, "the output %s is also input %zu (%s): refusing to overwrite an input",
                  job->output, i + 1, in->path);
        goto out;
    }
    if (in->sequential) {
        rc = classify_sequential(job, in, fd, err);
        goto out;
    }
    if (check_size_is_content(in, fd, err) != 0) {
        goto out;
    }
    rc = is_gzip(job, fd)
             ? classify_gzip(in, fd, job->input_index != CONFIG_INDEX_OFF && !in->is_stdin,
                             framing_syncs(&job->framing), err)
             : 0;
out:
    close(fd);
    return rc;
}

/* The entry of input.path (or --input) that input i comes from; NULL for a job made by hand. */
static const struct config_input_entry *
entry_of(const struct job *job, size_t i)
{
    if (job->input_entry == NULL || job->input_entries == NULL) {
        return NULL;
    }
    return &job->input_entries[job->input_entry[i]];
}

/* Where input i comes from, for messages. */
static void
describe_entry(const struct job *job, size_t i, char *buf, size_t size)
{
    const struct config_input_entry *e = entry_of(job, i);

    if (e == NULL) {
        snprintf(buf, size, "the input list");
    } else if (e->pos.line == 0) {
        snprintf(buf, size, "--input '%s'", e->text);
    } else if (e->pos.line < 0) {
        config_where(job, e->pos, buf, size);
    } else {
        snprintf(buf, size, "'%s' at line %d, column %d", e->text, e->pos.line, e->pos.column);
    }
}

/* "FILE:LINE:COLUMN: " of the entry input i comes from, "--input: " for --input's, or "". */
static void
entry_prefix(const struct job *job, size_t i, char *buf, size_t size)
{
    const struct config_input_entry *e = entry_of(job, i);
    char where[ERROR_MSG_MAX];

    buf[0] = '\0';
    if (e != NULL && e->pos.line == 0) {
        snprintf(buf, size, "--input: ");
    } else if (e != NULL) {
        snprintf(buf, size, "%s: ", config_where(job, e->pos, where, sizeof(where)));
    }
}

/* Standard input: a descriptor kept on it, and what it is (a regular file is read as one; a
 * pipe, a terminal or a device is a stream). */
static int
stat_stdin(struct input *in, struct error *err)
{
    if (fstat(STDIN_FILENO, &in->st) != 0) {
        return error_errno(err, "cannot read standard input");
    }
    if (S_ISDIR(in->st.st_mode)) {
        error_set(err, "standard input is a directory");
        return ERR_INVALID;
    }
    in->stdin_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (in->stdin_fd < 0) {
        return error_errno(err, "cannot read standard input");
    }
    in->sequential = !S_ISREG(in->st.st_mode);
    return 0;
}

/* Stats every input and refuses any that is not a regular file, before opening any (opening a
 * FIFO waits for a writer; opening a device may act on it). A path that is not there is reported
 * at its entry in the job file. */
static int
stat_all(const struct job *job, struct inputs *in, struct error *err)
{
    char prefix[ERROR_MSG_MAX];
    size_t i;

    for (i = 0; i < in->n; i++) {
        if (in->v[i].is_stdin) {
            if (stat_stdin(&in->v[i], err) != 0) {
                return ERR_INVALID;
            }
            continue;
        }
        if (stat(in->v[i].path, &in->v[i].st) != 0) {
            entry_prefix(job, i, prefix, sizeof(prefix));
            error_errno(err, "%scannot open input %s", prefix, in->v[i].path);
            return ERR_INVALID;
        }
        if (check_type(in->v[i].path, in->v[i].st.st_mode, err) != 0) {
            return ERR_INVALID;
        }
    }
    return 0;
}

static int
refuse_duplicate(const struct job *job, const struct inputs *in, size_t first, size_t dup,
                 struct error *err)
{
    const struct config_input_entry *e = entry_of(job, dup);
    const struct stat *st = &in->v[dup].st;
    char prefix[1100], from_first[600], from_dup[600];

    prefix[0] = '\0';
    if (e != NULL && e->pos.line != 0) {
        entry_prefix(job, dup, prefix, sizeof(prefix));
    }
    describe_entry(job, first, from_first, sizeof(from_first));
    describe_entry(job, dup, from_dup, sizeof(from_dup));
    error_set(err,
              "%sinput %s (from %s) and input %s (from %s) are the same file (device %u:%u, "
              "inode %ju), which would be processed twice: list it once, or set "
              "input.allow_duplicates: true",
              prefix, in->v[first].path, from_first, in->v[dup].path, from_dup, major(st->st_dev),
              minor(st->st_dev), (uintmax_t)st->st_ino);
    return ERR_INVALID;
}

static int
same_file(const void *a, const void *b)
{
    const struct stat *x = &((const struct input *)a)->st, *y = &((const struct input *)b)->st;

    if (x->st_dev != y->st_dev) {
        return x->st_dev < y->st_dev ? -1 : 1;
    }
    return x->st_ino < y->st_ino ? -1 : x->st_ino > y->st_ino;
}

/*
 * Refuses a file listed twice (the same device and inode: through two globs, a link or two
 * spellings of its path too), naming the first such pair in the list's order, unless the job
 * allows it (a glob may match many thousand files).
 */
static int
check_duplicates(const struct job *job, const struct inputs *in, struct error *err)
{
    size_t first, dup;
    int found;

    if (job->allow_duplicates || in->n < 2) {
        return 0;
    }
    if (dupes_find(in->v, in->n, sizeof(*in->v), same_file, &found, &first, &dup) != 0) {
        error_set(err, "out of memory");
        return ERR_INVALID;
    }
    return found ? refuse_duplicate(job, in, first, dup, err) : 0;
}

/* How many of the first n inputs are standard input. */
static size_t
count_stdin(const struct inputs *in, size_t n)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        k += (size_t)in->v[i].is_stdin;
    }
    return k;
}

int
inputs_open(const struct job *job, struct inputs *in, struct error *err)
{
    struct stat out_st;
    /* Standard output counts too: `-o - >> input.txt` would grow the input as it is read. */
    int have_out = strcmp(job->output, "-") != 0
                       ? stat(job->output, &out_st) == 0
                       : fstat(STDOUT_FILENO, &out_st) == 0 && S_ISREG(out_st.st_mode);
    size_t i;
    int rc;

    memset(in, 0, sizeof(*in));
    if (job->input_problem != NULL) {
        error_set(err, "%s", job->input_problem);
        return ERR_INVALID;
    }
    in->v = calloc(job->n_inputs > 0 ? job->n_inputs : 1, sizeof(*in->v));
    if (in->v == NULL) {
        error_set(err, "out of memory");
        return ERR_INVALID;
    }
    in->n = job->n_inputs;
    for (i = 0; i < in->n; i++) {
        in->v[i].path = job->inputs[i];
        in->v[i].stdin_fd = -1;
        if (strcmp(job->inputs[i], "-") == 0) {
            if (count_stdin(in, i) > 0) {
                error_set(err, "standard input (-) is listed twice among the inputs: it can be "
                               "read once");
                return ERR_INVALID;
            }
            in->v[i].is_stdin = 1;
            in->v[i].path = INPUT_STDIN_NAME;
        }
    }
    /* Points as close as the partitions (so that the next run can cut partitions that small). */
    in->index_spacing =
        job->partition_size < GZ_INDEX_SPACING ? job->partition_size : GZ_INDEX_SPACING;
    if (in->index_spacing < MIN_INDEX_SPACING) {
        in->index_spacing = MIN_INDEX_SPACING;
    }
    rc = stat_all(job, in, err);
    if (rc == 0) {
        rc = check_duplicates(job, in, err);
    }
    for (i = 0; i < in->n && rc == 0; i++) {
        rc = open_one(job, have_out ? &out_st : NULL, &in->v[i], i, err);
        in->n_streams += rc == 0 && in->v[i].kind == INPUT_STREAM;
    }
    return rc;
}

/* The bytes an input's partitions cover (decompressed for gzip); 0 for a stream (not planned). */
static uint64_t
planned_size(const struct input *f)
{
    switch (f->kind) {
    case INPUT_PLAIN:
        return (uint64_t)f->st.st_size;
    case INPUT_BGZF:
        return f->bgzf.usize;
    case INPUT_GZINDEX:
        return f->gzi.usize;
    default:
        return 0;
    }
}

/* The largest unit of 1024 not above bytes (0 for bytes), for messages. */
static unsigned
size_unit(uint64_t bytes)
{
    unsigned u = 0;

    while (u < 4 && bytes >= (1024ull << (10 * u))) {
        u++;
    }
    return u;
}

static const char *const unit_names[] = {"B", "KiB", "MiB", "GiB", "TiB"};

/* "N unit", rounded up to a whole number of the largest unit that fits: a size that will do. */
static void
format_size_up(uint64_t bytes, char *buf, size_t size)
{
    unsigned u = size_unit(bytes);

    snprintf(buf, size, "%llu %s",
             (unsigned long long)((bytes + (1ull << (10 * u)) - 1) >> (10 * u)), unit_names[u]);
}

/* "N.N unit": a size to tell. */
static void
format_size(uint64_t bytes, char *buf, size_t size)
{
    unsigned u = size_unit(bytes);

    snprintf(buf, size, "%.1f %s", (double)bytes / (double)(1ull << (10 * u)), unit_names[u]);
}

/* Replaces plan_add_*'s message for a plan past PLAN_MAX_PARTITIONS by one that says what to do. */
static void
explain_full_plan(const struct job *job, const struct inputs *in, struct error *err)
{
    /* At most size / partition_size partitions per file, plus one for its end. */
    uint64_t total = 0, room = PLAN_MAX_PARTITIONS > in->n ? PLAN_MAX_PARTITIONS - in->n : 1;
    char have[64], want[64];
    size_t i;

    for (i = 0; i < in->n; i++) {
        total += planned_size(&in->v[i]);
    }
    format_size(total, have, sizeof(have));
    format_size_up(total / room + 1, want, sizeof(want));
    error_set(err,
              "partition_size %llu B would cut the inputs (%s) into more than %d partitions, the "
              "most a job may have: use a partition_size of %s or more",
              (unsigned long long)job->partition_size, have, PLAN_MAX_PARTITIONS, want);
}

/* Plans plain input i, opening it for the probes. */
static int
plan_plain(const struct job *job, const struct input *f, size_t i, struct plan *plan,
           struct error *err)
{
    int fd = input_open(f, err), rc;

    if (fd < 0) {
        return -1;
    }
    rc = plan_add_file(plan, i, f->path, fd, (uint64_t)f->st.st_size, job->partition_size,
                       &job->framing, err);
    close(fd);
    return rc;
}

int
inputs_plan(const struct job *job, const struct inputs *in, struct plan *plan, struct error *err)
{
    const uint64_t target = job->partition_size;
    size_t i;
    int rc = 0;

    for (i = 0; i < in->n && rc == 0; i++) {
        const struct input *f = &in->v[i];

        switch (f->kind) {
        case INPUT_PLAIN:
            rc = plan_plain(job, f, i, plan, err);
            break;
        case INPUT_BGZF:
            rc = plan_add_bgzf(plan, i, f->path, &f->bgzf, target, err);
            break;
        case INPUT_GZINDEX:
            rc = plan_add_gzindex(plan, i, f->path, &f->gzi, target, err);
            break;
        case INPUT_STREAM:
            break; /* cut as it is decoded */
        }
    }
    if (rc != 0 && plan_is_full(plan)) {
        explain_full_plan(job, in, err);
    }
    return rc == 0 ? 0 : ERR_INVALID;
}

/* Appends ", " (after the first) and the formatted text to buf, which holds *len bytes. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len >= size) {
        return;
    }
    if (*len > 0) {
        n = snprintf(buf + *len, size - *len, ", ");
        *len += n > 0 ? (size_t)n : 0;
    }
    if (*len >= size) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    *len += n > 0 ? (size_t)n : 0;
}

static int
same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Says in buf what differs between what inputs_open saw (was) and the file now; "" if nothing. */
static void
describe_changes(const struct stat *was, const struct stat *now, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    if (was->st_size != now->st_size) {
        append(buf, size, &len, "size %jd -> %jd", (intmax_t)was->st_size, (intmax_t)now->st_size);
    }
    if (!same_time(&was->st_mtim, &now->st_mtim)) {
        append(buf, size, &len, "mtime %jd.%09ld -> %jd.%09ld", (intmax_t)was->st_mtim.tv_sec,
               was->st_mtim.tv_nsec, (intmax_t)now->st_mtim.tv_sec, now->st_mtim.tv_nsec);
    }
    if (!same_time(&was->st_ctim, &now->st_ctim)) {
        append(buf, size, &len, "ctime %jd.%09ld -> %jd.%09ld", (intmax_t)was->st_ctim.tv_sec,
               was->st_ctim.tv_nsec, (intmax_t)now->st_ctim.tv_sec, now->st_ctim.tv_nsec);
    }
    if (was->st_dev != now->st_dev || was->st_ino != now->st_ino) {
        append(buf, size, &len, "the path now names another file (inode %ju, was %ju)",
               (uintmax_t)now->st_ino, (uintmax_t)was->st_ino);
    }
}

/* Checks one input: the file its path names against what was recorded. (Every read of it
 * opened it by path and checked the same, so the file read is the file checked.) */
static int
check_unchanged(const struct input *in, struct error *err)
{
    struct stat now;
    char what[600];

    if (in->is_stdin) {
        return 0; /* read through its own descriptor, once: nothing to compare with */
    }
    if (stat(in->path, &now) != 0) {
        return error_errno(err, "input %s changed during the job: it is no longer at its path",
                           in->path);
    }
    describe_changes(&in->st, &now, what, sizeof(what));
    if (what[0] != '\0') {
        return error_set(err, "input %s changed during the job: %s", in->path, what);
    }
    return 0;
}

int
input_open(const struct input *in, struct error *err)
{
    struct stat st;
    char what[600];
    int fd = open_input(in, &st, err);

    if (fd < 0 || in->is_stdin) {
        return fd;
    }
    describe_changes(&in->st, &st, what, sizeof(what));
    if (what[0] != '\0') {
        close(fd);
        return error_set(err, "input %s changed during the job: %s", in->path, what);
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return fd;
}

int
inputs_check_unchanged(const struct inputs *in, struct error *err)
{
    size_t i;

    for (i = 0; i < in->n; i++) {
        if (check_unchanged(&in->v[i], err) != 0) {
            return ERR_FAILED;
        }
    }
    return 0;
}

int
input_is_compressed(const struct input *in)
{
    return in->kind != INPUT_PLAIN && !(in->sequential && !in->gzip);
}

void
inputs_release(struct inputs *in)
{
    size_t i;

    for (i = 0; in->v != NULL && i < in->n; i++) {
        bgzf_index_release(&in->v[i].bgzf);
        gz_index_release(&in->v[i].gzi);
        if (in->v[i].is_stdin && in->v[i].stdin_fd >= 0) {
            close(in->v[i].stdin_fd);
        }
    }
    free(in->v);
    memset(in, 0, sizeof(*in));
}

const char *
input_kind_name(const struct input *in)
{
    if (in->is_stdin) {
        return "stdin";
    }
    switch (in->kind) {
    case INPUT_BGZF:
        return "bgzf";
    case INPUT_GZINDEX:
        return "gzip-indexed";
    case INPUT_STREAM:
        return "gzip-stream";
    case INPUT_PLAIN:
    default:
        return "plain";
    }
}

/* Up to `room` more decoded (gzip) or plain bytes of input `in` after `got` into buf. Returns
 * how many (0 at its end) or -1. */
static ssize_t
header_read(const struct input *in, int fd, struct gz_reader *gz, char *buf, size_t room,
            uint64_t got, struct error *err)
{
    ssize_t n;

    if (gz != NULL) {
        return gz_reader_read(gz, (unsigned char *)buf, room, err);
    }
    n = io_pread_full(fd, buf, room, got);
    if (n < 0) {
        error_errno(err, "cannot read %s at byte offset %" PRIu64, in->path, got);
    }
    return n;
}

/*
 * The first row of input `in` (csv with header: true), without its line ending, into *row
 * (malloc'ed, NUL-terminated; NULL for an empty file). Reads no more than it needs.
 */
static int
first_row(const struct job *job, const struct input *in, char **row, size_t *row_len,
          struct error *err)
{
    struct framing_scan st = FRAMING_SCAN_INIT;
    struct gz_reader *gz = NULL;
    size_t cap = 0, len = 0, rec_len, total;
    char *buf = NULL;
    const char *why;
    int fd, rc = ERR_FAILED, eof = 0;

    *row = NULL;
    *row_len = 0;
    fd = input_open(in, err);
    if (fd < 0) {
        return ERR_INVALID;
    }
    if (in->kind != INPUT_PLAIN &&
        gz_reader_new(fd, in->path, (uint64_t)in->st.st_size, &gz, err) != 0) {
        goto out;
    }
    for (;;) {
        int got = framing_next(&job->framing, &st, buf, len, eof, &rec_len, &total, &why);
        ssize_t n;

        if (got == FRAMING_RECORD) {
            buf[rec_len] = '\0';
            *row = buf;
            *row_len = rec_len;
            buf = NULL;
            rc = 0;
            break;
        }
        if (got == FRAMING_BAD) {
            error_set(err, "%s: malformed csv header row at byte offset 0: %s", in->path, why);
            break;
        }
        if (eof) {
            rc = 0; /* an empty file: no header */
            break;
        }
        if (GROW(buf, cap, len + 65536 + 1) != 0) {
            error_set(err, "out of memory for the header row of %s", in->path);
            break;
        }
        n = header_read(in, fd, gz, buf + len, cap - 1 - len, len, err);
        if (n < 0) {
            break;
        }
        eof = n == 0;
        len += (size_t)n;
    }
out:
    gz_reader_free(gz);
    free(buf);
    close(fd);
    return rc;
}

int
inputs_read_header(struct job *job, const struct inputs *in, struct error *err)
{
    size_t i, first = 0;
    int rc;

    if (!job->framing.header) {
        return 0;
    }
    for (i = 0; i < in->n; i++) {
        char *row;
        size_t len;

        if (in->v[i].sequential) {
            error_set(err,
                      "input.header: true needs its inputs as files, and %s is a pipe (the header "
                      "must be read before the job starts); write it to a file first",
                      in->v[i].is_stdin ? "standard input" : in->v[i].path);
            return ERR_INVALID;
        }
        rc = first_row(job, &in->v[i], &row, &len, err);
        if (rc != 0) {
            return rc;
        }
        if (row == NULL) {
            continue; /* an empty file has no header, and no records */
        }
        if (job->framing.header_row == NULL) {
            job->framing.header_row = row;
            job->framing.header_len = len;
            first = i;
            continue;
        }
        if (len != job->framing.header_len || memcmp(row, job->framing.header_row, len) != 0) {
            error_set(err,
                      "input %s begins with another header row than %s (input.header: true "
                      "takes one header for the job): '%.80s' against '%.80s'",
                      in->v[i].path, in->v[first].path, row, job->framing.header_row);
            free(row);
            return ERR_INVALID;
        }
        free(row);
    }
    return 0;
}
