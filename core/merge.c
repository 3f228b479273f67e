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
#include <sys/mman.h>
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
    if (dir == NULL || asprintf(&m->tmp_path, "%s/.%s.tranche-%ld.tmp", dir, base,
                                (long)getpid()) < 0) {
        m->tmp_path = NULL;
        free(dir);
        merge_abort(m);
        return error_set(err, "out of memory");
    }
    free(dir);
    m->fd = open(m->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (m->fd < 0) {
        error_errno(err, "cannot create the output %s (as %s)", output, m->tmp_path);
        free(m->tmp_path);
        m->tmp_path = NULL;
        merge_abort(m);
        return -1;
    }
    return 0;
}

static int
copy_plain(int in, int out, const char *part_path, const char *output, struct error *err)
{
    char buf[1 << 16];

    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf)), off = 0;
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return error_errno(err, "cannot read part file %s", part_path);
        }
        if (n == 0) {
            return 0;
        }
        while (off < n) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0) {
                return error_errno(err, "cannot write the output %s", output);
            }
            off += w;
        }
    }
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
                return error_errno(err, "cannot write the output %s", m->output);
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

    if (getenv("TRANCHE_MERGE_MMAP") != NULL) {
        while (len > 0) {
            size_t want = len < (8u << 20) ? (size_t)len : (8u << 20), done = 0;
            char *map = mmap(NULL, want, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, off);
            if (map == MAP_FAILED) {
                return error_errno(err, "cannot map %s", name);
            }
            while (done < want) {
                ssize_t w = write(m->fd, map + done, want - done);
                if (w < 0 && errno == EINTR) {
                    continue;
                }
                if (w < 0) {
                    munmap(map, want);
                    return error_errno(err, "cannot write the output %s", m->output);
                }
                done += (size_t)w;
            }
            munmap(map, want);
            off += (off_t)want;
            len -= want;
        }
        m->bytes += total;
        return 0;
    }
    if (getenv("TRANCHE_MERGE_PREAD") != NULL) {
        if (copy_range_plain(m, fd, 0, len, name, err) != 0) {
            return -1;
        }
        m->bytes += total;
        return 0;
    }

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
            return error_errno(err, "cannot write the output %s", m->output);
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
    off_t left;
    int rc = -1;

    if (in < 0) {
        return error_errno(err, "cannot open part file %s", part_path);
    }
    if (fstat(in, &st) != 0) {
        error_errno(err, "cannot stat part file %s", part_path);
        goto out;
    }
    left = st.st_size;
    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, m->fd, NULL, (size_t)left, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EINVAL || errno == EXDEV || errno == ENOSYS ||
                      errno == EOPNOTSUPP || errno == EBADF)) {
            if (copy_plain(in, m->fd, part_path, m->output, err) != 0) {
                goto out;
            }
            break;
        }
        if (n < 0) {
            error_errno(err, "cannot write the output %s", m->output);
            goto out;
        }
        if (n == 0) {
            error_set(err, "part file %s shrank while merging", part_path);
            goto out;
        }
        left -= n;
    }
    m->bytes += (uint64_t)st.st_size;
    if (unlink(part_path) != 0) {
        error_errno(err, "cannot remove part file %s", part_path);
        goto out;
    }
    rc = 0;
out:
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
