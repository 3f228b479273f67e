/*
 * core/merge.c: appending part files in order with copy_file_range (the data stays in the kernel),
 * falling back to read/write where the kernel or the target (a pipe, a terminal) refuses it.
 */
#include "merge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

char *
merge_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        return strdup(".");
    }
    if (slash == path) {
        return strdup("/");
    }
    return strndup(path, (size_t)(slash - path));
}

int
merge_open(struct merge *m, const char *output, struct error *err)
{
    const char *base = strrchr(output, '/');
    char *dir = NULL;
    int attempt;

    memset(m, 0, sizeof(*m));
    m->fd = -1;
    m->output = strdup(output);
    if (m->output == NULL) {
        return error_set(err, "out of memory");
    }
    if (strcmp(output, "-") == 0) {
        m->fd = STDOUT_FILENO;
        return 0;
    }
    base = base != NULL ? base + 1 : output;
    dir = merge_dirname(output);
    /* O_EXCL: never write into another run's temporary file, even one left by a crash. */
    for (attempt = 0; attempt < 100 && m->fd < 0; attempt++) {
        free(m->tmp_path);
        if (dir == NULL || asprintf(&m->tmp_path, "%s/.%s.tranche-%ld-%d.tmp", dir, base,
                                    (long)getpid(), attempt) < 0) {
            m->tmp_path = NULL;
            free(dir);
            merge_abort(m);
            return error_set(err, "out of memory");
        }
        m->fd = open(m->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (m->fd < 0 && errno != EEXIST) {
            break;
        }
    }
    free(dir);
    if (m->fd < 0) {
        error_errno(err, "cannot create the output %s (as %s)", output, m->tmp_path);
        free(m->tmp_path);
        m->tmp_path = NULL;
        merge_abort(m);
        return -1;
    }
    return 0;
}

/* Notes a closed standard output, so the caller can stop quietly instead of failing loudly. */
static int
write_failed(struct merge *m, struct error *err)
{
    if (errno == EPIPE && m->tmp_path == NULL) {
        m->broken_pipe = 1;
    }
    return error_errno(err, "cannot write the output %s", m->output);
}

/* The portable path: pread from the part, write to the output. */
static int
copy_range_plain(struct merge *m, int in, off_t off, uint64_t len, const char *name,
                 struct error *err)
{
    static char buf[1 << 20];

    while (len > 0) {
        size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
        ssize_t n = pread(in, buf, want, off), done = 0;
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? error_errno(err, "cannot read %s", name)
                         : error_set(err, "%s is shorter than expected", name);
        }
        while (done < n) {
            ssize_t w = write(m->fd, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0) {
                return write_failed(m, err);
            }
            done += w;
        }
        off += n;
        len -= (uint64_t)n;
    }
    return 0;
}

int
merge_append_fd(struct merge *m, int fd, uint64_t len, const char *name, struct error *err)
{
    off_t off = 0;
    uint64_t total = len;

    /* sendfile copies inside the kernel, from the part's pages to the output's, and takes an
     * explicit offset, so the file offset the worker writes with is left alone. */
    while (len > 0) {
        size_t want = len < (1u << 30) ? (size_t)len : (1u << 30);
        ssize_t n = sendfile(m->fd, fd, &off, want);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
            if (copy_range_plain(m, fd, off, len, name, err) != 0) {
                return -1;
            }
            break;
        }
        if (n < 0) {
            return write_failed(m, err);
        }
        if (n == 0) {
            return error_set(err, "%s is shorter than expected", name);
        }
        len -= (uint64_t)n;
    }
    m->bytes += total;
    return 0;
}

int
merge_append(struct merge *m, const char *part_path, struct error *err)
{
    int in = open(part_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int rc = -1;

    if (in < 0) {
        return error_errno(err, "cannot open part file %s", part_path);
    }
    if (fstat(in, &st) != 0) {
        error_errno(err, "cannot stat part file %s", part_path);
    } else if (merge_append_fd(m, in, (uint64_t)st.st_size, part_path, err) == 0) {
        rc = unlink(part_path) == 0 ? 0 : error_errno(err, "cannot remove part file %s",
                                                         part_path);
    }
    close(in);
    return rc;
}

int
merge_commit(struct merge *m, struct error *err)
{
    int rc = 0;

    if (m->tmp_path == NULL) {
        free(m->output);
        m->output = NULL;
        return 0;
    }
    if (close(m->fd) != 0) {
        m->fd = -1;
        error_errno(err, "cannot write the output %s", m->output);
        merge_abort(m);
        return -1;
    }
    m->fd = -1;
    if (rename(m->tmp_path, m->output) != 0) {
        rc = error_errno(err, "cannot rename %s to %s", m->tmp_path, m->output);
        merge_abort(m);
        return rc;
    }
    free(m->tmp_path);
    free(m->output);
    m->tmp_path = NULL;
    m->output = NULL;
    return 0;
}

void
merge_abort(struct merge *m)
{
    if (m->tmp_path != NULL) {
        if (m->fd >= 0) {
            close(m->fd);
        }
        unlink(m->tmp_path);
        free(m->tmp_path);
        m->tmp_path = NULL;
    }
    m->fd = -1;
    free(m->output);
    m->output = NULL;
}
