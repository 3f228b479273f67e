/* core/output.c: the temporary output, appends to it in order, and its atomic commit. */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "paths.h"

int
output_open(struct output *o, const char *path, struct error *err)
{
    const char *base = strrchr(path, '/');
    char *dir = NULL;
    int attempt;

    memset(o, 0, sizeof(*o));
    o->fd = -1;
    o->path = strdup(path);
    if (o->path == NULL) {
        return error_set(err, "out of memory");
    }
    if (strcmp(path, "-") == 0) {
        o->fd = STDOUT_FILENO;
        return 0;
    }
    base = base != NULL ? base + 1 : path;
    dir = path_dirname(path);
    /* O_EXCL: never write into another run's temporary file, even one left by a crash. */
    for (attempt = 0; attempt < 100 && o->fd < 0; attempt++) {
        free(o->tmp_path);
        if (dir == NULL || asprintf(&o->tmp_path, "%s/.%s.tranche-%ld-%d.tmp", dir, base,
                                    (long)getpid(), attempt) < 0) {
            o->tmp_path = NULL;
            free(dir);
            output_abort(o);
            return error_set(err, "out of memory");
        }
        o->fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (o->fd < 0 && errno != EEXIST) {
            break;
        }
    }
    free(dir);
    if (o->fd < 0) {
        error_errno(err, "cannot create the output %s (as %s)", path, o->tmp_path);
        free(o->tmp_path);
        o->tmp_path = NULL;
        output_abort(o);
        return -1;
    }
    return 0;
}

int
output_write(struct output *o, const void *data, size_t len, struct error *err)
{
    if (io_write_all(o->fd, data, len) == 0) {
        return 0;
    }
    /* A closed standard output: the caller stops quietly instead of failing loudly. */
    if (errno == EPIPE && o->tmp_path == NULL) {
        o->broken_pipe = 1;
    }
    return error_errno(err, "cannot write the output %s", o->path);
}

int
output_put(void *o, const void *data, size_t len, struct error *err)
{
    return output_write(o, data, len, err);
}

int
output_append(struct output *o, const char *part_path, struct error *err)
{
    static char buf[1 << 20];
    int in = open(part_path, O_RDONLY | O_CLOEXEC);
    int rc = -1;
    ssize_t n;

    if (in < 0) {
        return error_errno(err, "cannot open part file %s", part_path);
    }
    while ((n = io_read_full(in, buf, sizeof(buf))) > 0) {
        if (output_write(o, buf, (size_t)n, err) != 0) {
            goto out;
        }
    }
    if (n < 0) {
        error_errno(err, "cannot read part file %s", part_path);
        goto out;
    }
    rc = unlink(part_path) == 0 ? 0 : error_errno(err, "cannot remove part file %s", part_path);
out:
    close(in);
    return rc;
}

int
output_commit(struct output *o, struct error *err)
{
    int rc = 0;

    if (o->tmp_path == NULL) {
        if (o->fd > STDERR_FILENO) {
            close(o->fd); /* standard output, moved off descriptor 1 for the run */
        }
        o->fd = -1;
        free(o->path);
        o->path = NULL;
        return 0;
    }
    if (close(o->fd) != 0) {
        o->fd = -1;
        error_errno(err, "cannot write the output %s", o->path);
        output_abort(o);
        return -1;
    }
    o->fd = -1;
    if (rename(o->tmp_path, o->path) != 0) {
        rc = error_errno(err, "cannot rename %s to %s", o->tmp_path, o->path);
        output_abort(o);
        return rc;
    }
    free(o->tmp_path);
    free(o->path);
    o->tmp_path = NULL;
    o->path = NULL;
    return 0;
}

void
output_abort(struct output *o)
{
    if (o->tmp_path != NULL) {
        if (o->fd >= 0) {
            close(o->fd);
        }
        unlink(o->tmp_path);
        free(o->tmp_path);
        o->tmp_path = NULL;
    } else if (o->fd > STDERR_FILENO) {
        close(o->fd);
    }
    o->fd = -1;
    free(o->path);
    o->path = NULL;
}
