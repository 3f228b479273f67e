/* core/merge.c: appending part files to the output in order, and committing it atomically. */
#include "merge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int
merge_write(struct merge *m, const void *data, size_t len, struct error *err)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = write(m->fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return write_failed(m, err);
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int
merge_append(struct merge *m, const char *part_path, struct error *err)
{
    static char buf[1 << 20];
    int in = open(part_path, O_RDONLY | O_CLOEXEC);
    int rc = -1;

    if (in < 0) {
        return error_errno(err, "cannot open part file %s", part_path);
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error_errno(err, "cannot read part file %s", part_path);
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (merge_write(m, buf, (size_t)n, err) != 0) {
            goto out;
        }
    }
    rc = unlink(part_path) == 0 ? 0 : error_errno(err, "cannot remove part file %s", part_path);
out:
    close(in);
    return rc;
}

int
merge_commit(struct merge *m, struct error *err)
{
    int rc = 0;

    if (m->tmp_path == NULL) {
        if (m->fd > STDERR_FILENO) {
            close(m->fd); /* standard output, moved off descriptor 1 for the run */
        }
        m->fd = -1;
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
    } else if (m->fd > STDERR_FILENO) {
        close(m->fd);
    }
    m->fd = -1;
    free(m->output);
    m->output = NULL;
}
