/* core/rejects.c: the records a job left out (rejects.h). */
#include "rejects.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "io.h"

#define PARTS_DIR "rejects.parts"
#define HEADER "#input\toffset\tlength\tpartition\tstep\treason\n"

/* LOG_DIR/NAME into buf; -1 when it does not fit. */
static int
join(char *buf, size_t size, const char *log_dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", log_dir, name);

    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Removes the files of LOG_DIR/rejects.parts and the directory itself, if there. */
static void
remove_parts_dir(const char *log_dir)
{
    char dir[PATH_MAX], path[PATH_MAX + 300];
    struct dirent *e;
    DIR *d;

    if (join(dir, sizeof(dir), log_dir, PARTS_DIR) != 0 || (d = opendir(dir)) == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.' && join(path, sizeof(path), dir, e->d_name) == 0) {
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

int
rejects_prepare(const char *log_dir, struct error *err)
{
    char path[PATH_MAX];

    if (join(path, sizeof(path), log_dir, "rejects.tsv") == 0) {
        unlink(path);
    }
    if (join(path, sizeof(path), log_dir, "rejects.bin") == 0) {
        unlink(path);
    }
    remove_parts_dir(log_dir);
    if (join(path, sizeof(path), log_dir, PARTS_DIR) != 0) {
        return error_set(err, "the log directory's path is too long: %s", log_dir);
    }
    if (mkdir(path, 0700) != 0) {
        return error_errno(err, "cannot make %s", path);
    }
    return 0;
}

void
rejects_begin(struct rejects *rj, const char *log_dir, size_t k, const char *input_path,
              const struct step *steps, size_t n_steps, const struct framing *fr)
{
    rj->log_dir = log_dir;
    rj->partition = k;
    rj->input_path = input_path;
    rj->steps = steps;
    rj->n_steps = n_steps;
    rj->fr = fr;
    rj->tsv_fd = rj->bin_fd = -1;
}

/* LOG_DIR/rejects.parts/K.EXT */
static int
part_path(char *buf, size_t size, const char *log_dir, size_t k, const char *ext)
{
    int n = snprintf(buf, size, "%s/" PARTS_DIR "/%zu.%s", log_dir, k, ext);

    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int
open_part(const struct rejects *rj, const char *ext, int *fd, struct error *err)
{
    char path[PATH_MAX];

    if (part_path(path, sizeof(path), rj->log_dir, rj->partition, ext) != 0) {
        return error_set(err, "the log directory's path is too long: %s", rj->log_dir);
    }
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*fd < 0) {
        return error_errno(err, "cannot create %s", path);
    }
    return 0;
}

/* Appends text to buf (of `size`) at *len, with tabs, CR and LF made spaces. */
static void
put_field(char *buf, size_t size, size_t *len, const char *text)
{
    for (; *text != '\0' && *len + 1 < size; text++) {
        buf[(*len)++] = (*text == '\t' || *text == '\n' || *text == '\r') ? ' ' : *text;
    }
    buf[*len] = '\0';
}

int
rejects_put(void *arg, const struct chain_reject *rej, struct error *err)
{
    struct rejects *rj = arg;
    char line[PATH_MAX + ERROR_MSG_MAX + 256], num[96];
    size_t len = 0;
    const char *step =
        rej->step >= 0 && (size_t)rej->step < rj->n_steps ? rj->steps[rej->step].label : "-";

    if (rj->tsv_fd < 0 && (open_part(rj, "tsv", &rj->tsv_fd, err) != 0 ||
                           open_part(rj, "bin", &rj->bin_fd, err) != 0)) {
        return -1;
    }
    put_field(line, sizeof(line), &len, rj->input_path);
    snprintf(num, sizeof(num), "\t%" PRIu64 "\t%zu\t%zu\t", rej->offset, rej->len, rj->partition);
    if (len + strlen(num) < sizeof(line)) {
        memcpy(line + len, num, strlen(num));
        len += strlen(num);
    }
    put_field(line, sizeof(line), &len, step);
    if (len + 1 < sizeof(line)) {
        line[len++] = '\t';
    }
    put_field(line, sizeof(line), &len, rej->reason);
    if (len + 1 < sizeof(line)) {
        line[len++] = '\n';
    }
    if (io_write_all(rj->tsv_fd, line, len) != 0 ||
        io_write_all(rj->bin_fd, rej->data, rej->len) != 0 ||
        io_write_all(rj->bin_fd, rj->fr->out, rj->fr->out_len) != 0) {
        return error_errno(err, "cannot write the rejects of partition %zu in %s/" PARTS_DIR,
                           rj->partition, rj->log_dir);
    }
    return 0;
}

int
rejects_end(struct rejects *rj, struct error *err)
{
    int rc = 0;

    if (rj->tsv_fd >= 0 && close(rj->tsv_fd) != 0) {
        rc = error_errno(err, "cannot write the rejects of partition %zu", rj->partition);
    }
    if (rj->bin_fd >= 0 && close(rj->bin_fd) != 0 && rc == 0) {
        rc = error_errno(err, "cannot write the rejects of partition %zu", rj->partition);
    }
    rj->tsv_fd = rj->bin_fd = -1;
    return rc;
}

void
rejects_forget(const char *log_dir, size_t k)
{
    char path[PATH_MAX];

    if (part_path(path, sizeof(path), log_dir, k, "tsv") == 0) {
        unlink(path);
    }
    if (part_path(path, sizeof(path), log_dir, k, "bin") == 0) {
        unlink(path);
    }
}

/* The partitions that have rejects (K of K.tsv), sorted. */
static int
list_parts(const char *log_dir, size_t **out, size_t *n_out)
{
    char dir[PATH_MAX];
    struct dirent *e;
    size_t *v = NULL, n = 0, cap = 0;
    DIR *d;

    *out = NULL;
    *n_out = 0;
    if (join(dir, sizeof(dir), log_dir, PARTS_DIR) != 0 || (d = opendir(dir)) == NULL) {
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        char *end;
        unsigned long long k = strtoull(e->d_name, &end, 10);
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && strcmp(end, ".tsv") == 0) {
            if (GROW(v, cap, n + 1) != 0) {
                closedir(d);
                free(v);
                return -1;
            }
            v[n++] = (size_t)k;
        }
    }
    closedir(d);
    for (size_t i = 1; i < n; i++) { /* (insertion sort: few partitions have rejects) */
        size_t x = v[i], j = i;
        for (; j > 0 && v[j - 1] > x; j--) {
            v[j] = v[j - 1];
        }
        v[j] = x;
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* Appends the file at `path` to fd; counts its lines in *lines when lines != NULL. */
static int
append_file(int fd, const char *path, const char *to, uint64_t *lines, struct error *err)
{
    char buf[65536];
    ssize_t got;
    int in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (in < 0) {
        return error_errno(err, "cannot read %s", path);
    }
    while ((got = read(in, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; lines != NULL && i < got; i++) {
            *lines += buf[i] == '\n';
        }
        if (io_write_all(fd, buf, (size_t)got) != 0) {
            close(in);
            return error_errno(err, "cannot write %s", to);
        }
    }
    close(in);
    return got < 0 ? error_errno(err, "cannot read %s", path) : 0;
}

int
rejects_collect(const char *log_dir, uint64_t *count, struct error *err)
{
    char tsv[PATH_MAX], bin[PATH_MAX], part[PATH_MAX];
    size_t *ks = NULL, n = 0, i;
    int tsv_fd = -1, bin_fd = -1, rc = -1;

    *count = 0;
    if (list_parts(log_dir, &ks, &n) != 0) {
        return error_set(err, "out of memory");
    }
    if (n == 0) {
        rc = 0;
        goto out;
    }
    if (join(tsv, sizeof(tsv), log_dir, "rejects.tsv") != 0 ||
        join(bin, sizeof(bin), log_dir, "rejects.bin") != 0) {
        error_set(err, "the log directory's path is too long: %s", log_dir);
        goto out;
    }
    tsv_fd = open(tsv, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    bin_fd = open(bin, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (tsv_fd < 0 || bin_fd < 0) {
        error_errno(err, "cannot create %s", tsv_fd < 0 ? tsv : bin);
        goto out;
    }
    if (io_write_all(tsv_fd, HEADER, strlen(HEADER)) != 0) {
        error_errno(err, "cannot write %s", tsv);
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (part_path(part, sizeof(part), log_dir, ks[i], "tsv") != 0 ||
            append_file(tsv_fd, part, tsv, count, err) != 0 ||
            part_path(part, sizeof(part), log_dir, ks[i], "bin") != 0 ||
            append_file(bin_fd, part, bin, NULL, err) != 0) {
            goto out;
        }
    }
    if (close(tsv_fd) != 0 || close(bin_fd) != 0) {
        tsv_fd = bin_fd = -1;
        error_errno(err, "cannot write %s", tsv);
        goto out;
    }
    tsv_fd = bin_fd = -1;
    rc = 0;
out:
    if (tsv_fd >= 0) {
        close(tsv_fd);
    }
    if (bin_fd >= 0) {
        close(bin_fd);
    }
    free(ks);
    remove_parts_dir(log_dir);
    return rc;
}
