/* core/output.c: what the output path is, the temporary output or the output written in place,
 * appends to it in order, and its commit (see output.h). */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "signals.h"

static int planted(const char *path, const struct stat *link);

/* A link planted in a shared directory, anywhere along the output's path (a directory link in
 * /tmp would take the output, its part directory and the directories made for it elsewhere). */
static int
planted_on_the_way(const char *path, struct error *err)
{
    char *copy = strdup(path), *slash;
    struct stat link;

    if (copy == NULL) {
        error_set(err, "out of memory");
        return ERR_INVALID;
    }
    for (slash = strchr(copy + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (lstat(copy, &link) == 0 && S_ISLNK(link.st_mode) && planted(copy, &link)) {
            error_set(err,
                      "the output %s goes through %s, a symbolic link that belongs to uid %ld, "
                      "in a directory anyone can write to: tranche does not follow it",
                      path, copy, (long)link.st_uid);
            free(copy);
            return ERR_INVALID;
        }
        *slash = '/';
    }
    free(copy);
    return 0;
}

/* Refuses what cannot be a file's name: nothing, or a name that ends in a directory. */
static int
check_name(const char *path, struct error *err)
{
    const char *base = strrchr(path, '/');

    base = base != NULL ? base + 1 : path;
    if (*path == '\0') {
        error_set(err, "the output path is empty");
        return ERR_INVALID;
    }
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        error_set(err, "the output %s names a directory: give the path of a file", path);
        return ERR_INVALID;
    }
    return 0;
}

/* Makes the output's directory, noting what it made in o->made. */
static int
make_dirs(struct output *o, const char *path, struct error *err)
{
    char *dir = path_dirname(path);
    int rc =
        dir != NULL ? path_mkdirs_undoable(dir, &o->made, err) : error_set(err, "out of memory");

    free(dir);
    if (rc != 0) {
        error_prefix(err, "cannot create the output %s", path);
        return ERR_INVALID;
    }
    return 0;
}

/* The rule of Linux's fs.protected_symlinks, applied whatever the system's setting: a link in a
 * sticky directory writable by all (/tmp) is followed only when it is this user's or the
 * directory owner's. Anyone could have planted any other. */
static int
planted(const char *path, const struct stat *link)
{
    char *dir = path_dirname(path);
    struct stat st;
    int shared = dir != NULL && stat(dir, &st) == 0 && (st.st_mode & S_ISVTX) != 0 &&
                 (st.st_mode & S_IWOTH) != 0;
    int rc = shared && link->st_uid != geteuid() && link->st_uid != st.st_uid;

    free(dir);
    return rc;
}

/* A symbolic link as the output: *st is what it points to. */
static int
follow(const char *path, const struct stat *link, struct stat *st, struct error *err)
{
    if (planted(path, link)) {
        error_set(err,
                  "the output %s is a symbolic link that belongs to uid %ld, in a directory "
                  "anyone can write to: tranche does not follow it",
                  path, (long)link->st_uid);
        return ERR_INVALID;
    }
    if (stat(path, st) != 0) {
        if (errno == ENOENT) {
            error_set(err,
                      "the output %s is a symbolic link to nothing: tranche writes to a "
                      "link's target, which must exist",
                      path);
        } else {
            error_errno(err, "cannot follow the output %s", path);
        }
        return ERR_INVALID;
    }
    return 0;
}

/* The regular file a link leads to, as a path (where its temporary file goes); it must still be
 * the file `st` describes. */
static int
link_target(const char *path, const struct stat *st, char **target, struct error *err)
{
    char *resolved = realpath(path, NULL);
    struct stat now;

    if (resolved == NULL) {
        error_errno(err, "cannot follow the output %s", path);
        return ERR_INVALID;
    }
    if (stat(resolved, &now) != 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
        error_set(err, "the output %s changed while tranche followed it (to %s)", path, resolved);
        free(resolved);
        return ERR_INVALID;
    }
    *target = resolved;
    return 0;
}

static int
copy_path(const char *path, char **target, struct error *err)
{
    *target = strdup(path);
    if (*target == NULL) {
        error_set(err, "out of memory");
        return ERR_INVALID;
    }
    return 0;
}

static const char *
kind_name(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return "a directory";
    case S_IFSOCK:
        return "a socket";
    case S_IFBLK:
        return "a block device";
    default:
        return "not a file tranche can write";
    }
}

/*
 * What the output path is now. Nothing, or a regular file (reached through links or not):
 * *target is the file to replace. A character device or a FIFO: *in_place is set, *st is it.
 * Anything else is refused.
 */
static int
classify(const char *path, int *in_place, char **target, struct stat *st, struct error *err)
{
    struct stat link;
    int rc;

    *in_place = 0;
    if (lstat(path, &link) != 0) {
        if (errno != ENOENT) {
            error_errno(err, "cannot check the output %s", path);
            return ERR_INVALID;
        }
        return copy_path(path, target, err);
    }
    *st = link;
    if (S_ISLNK(link.st_mode) && (rc = follow(path, &link, st, err)) != 0) {
        return rc;
    }
    if (S_ISREG(st->st_mode)) {
        if (S_ISLNK(link.st_mode)) {
            return link_target(path, st, target, err);
        }
        return copy_path(path, target, err);
    }
    if (S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode)) {
        *in_place = 1;
        return copy_path(path, target, err);
    }
    error_set(err,
              "the output %s is %s: tranche writes a regular file (replaced when the job "
              "succeeds), a character device or a FIFO",
              path, kind_name(st->st_mode));
    return ERR_INVALID;
}

/* The temporary file beside o->path. O_EXCL: never another run's, even one left by a crash. */
static int
open_temporary(struct output *o, struct error *err)
{
    const char *base = strrchr(o->path, '/');
    char *dir = path_dirname(o->path), *stale = NULL;
    int attempt;

    base = base != NULL ? base + 1 : o->path;
    if (dir != NULL && asprintf(&stale, ".%s.tranche-", base) >= 0) {
        path_remove_stale(dir, stale, ".tmp"); /* a killed run's */
        free(stale);
    }
    for (attempt = 0; dir != NULL && attempt < 100 && o->fd < 0; attempt++) {
        free(o->tmp_path);
        if (asprintf(&o->tmp_path, "%s/.%s.tranche-%ld-%d.tmp", dir, base, (long)getpid(),
                     attempt) < 0) {
            o->tmp_path = NULL;
            break;
        }
        o->fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (o->fd < 0 && errno != EEXIST) {
            break;
        }
    }
    free(dir);
    if (o->tmp_path == NULL) {
        error_set(err, "out of memory");
        return ERR_INVALID;
    }
    if (o->fd < 0) {
        error_errno(err, "cannot create the output %s (as %s)", o->path, o->tmp_path);
        free(o->tmp_path); /* not ours: output_abort must not remove it */
        o->tmp_path = NULL;
        return ERR_INVALID;
    }
    path_hold(o->fd);
    return 0;
}

/* A character device or a FIFO, opened for writing as it is; it must still be what `st` says
 * once open. Waiting for a FIFO's reader ends with a stop signal. */
static int
open_in_place(struct output *o, const struct stat *st, struct error *err)
{
    struct stat now;

    do {
        o->fd = open(o->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    } while (o->fd < 0 && errno == EINTR && !signals_caught);
    if (o->fd < 0 && errno == EINTR) {
        error_set(err, "interrupted by signal SIG%s while waiting for a reader of the output %s",
                  signals_name((int)signals_caught), o->path);
        return ERR_FAILED; /* as a job interrupted later */
    }
    if (o->fd < 0) {
        error_errno(err, "cannot open the output %s", o->path);
        return ERR_INVALID;
    }
    if (fstat(o->fd, &now) != 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino ||
        (now.st_mode & S_IFMT) != (st->st_mode & S_IFMT)) {
        error_set(err, "the output %s changed while tranche opened it", o->path);
        return ERR_INVALID;
    }
    return 0;
}

int
output_open(struct output *o, const char *path, struct error *err)
{
    char *target = NULL;
    struct stat st;
    int in_place = 0, rc;

    memset(o, 0, sizeof(*o));
    o->fd = -1;
    o->parts = PARTS_NONE;
    if (strcmp(path, "-") == 0) {
        o->path = strdup(path);
        o->fd = STDOUT_FILENO;
        if (o->path == NULL) {
            error_set(err, "out of memory");
            return ERR_INVALID;
        }
        return 0;
    }
    rc = check_name(path, err);
    if (rc == 0) {
        rc = planted_on_the_way(path, err);
    }
    if (rc == 0) {
        rc = make_dirs(o, path, err);
    }
    if (rc == 0) {
        rc = classify(path, &in_place, &target, &st, err);
    }
    if (rc == 0) {
        o->path = target;
        rc = in_place ? open_in_place(o, &st, err) : open_temporary(o, err);
    }
    if (rc != 0) {
        output_abort(o);
        return rc;
    }
    return 0;
}

int
output_check(const char *path, struct error *err)
{
    char *target = NULL;
    struct stat st;
    int in_place, rc;

    if (strcmp(path, "-") == 0) {
        return 0;
    }
    rc = check_name(path, err);
    if (rc == 0) {
        rc = planted_on_the_way(path, err);
    }
    if (rc == 0) {
        rc = classify(path, &in_place, &target, &st, err);
    }
    /* A file to make: its directory must be one that can be made and written in (run would
     * fail there only after planning). */
    if (rc == 0 && !in_place) {
        char *dir = path_dirname(target);

        rc = dir == NULL ? error_set(err, "out of memory")
                         : path_check_writable_dir(dir, "the output's directory", err);
        free(dir);
        rc = rc != 0 ? ERR_INVALID : 0;
    }
    free(target);
    return rc;
}

void
output_set_fsync(struct output *o, int on)
{
    o->fsync = on;
}

int
output_parts_init(struct output *o, struct error *err)
{
    const char *tmp = getenv("TMPDIR");
    char *dir;
    int rc;

    if (o->tmp_path == NULL) {
        dir = strdup(tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    } else {
        dir = path_dirname(o->path);
    }
    if (dir == NULL) {
        return error_set(err, "out of memory");
    }
    rc = parts_init(&o->parts, dir, err);
    free(dir);
    return rc;
}

int
output_write(struct output *o, const void *data, size_t len, struct error *err)
{
    if (io_write_all(o->fd, data, len) == 0) {
        return 0;
    }
    /* A reader that went away (standard output, a FIFO): the caller stops quietly instead of
     * failing loudly. */
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
output_append(struct output *o, int part_fd, const char *part_path, struct error *err)
{
    static char buf[1 << 20];
    uint64_t off = 0;
    ssize_t n;

    while ((n = io_pread_full(part_fd, buf, sizeof(buf), off)) > 0) {
        if (output_write(o, buf, (size_t)n, err) != 0) {
            return -1;
        }
        off += (uint64_t)n;
    }
    if (n < 0) {
        return error_errno(err, "cannot read part file %s", part_path);
    }
    return 0;
}

int
output_append_part(struct output *o, size_t k, struct error *err)
{
    char path[4200];
    int fd, rc;

    if (parts_take(&o->parts, k, &fd, err) != 0) {
        return -1;
    }
    parts_path(&o->parts, k, path, sizeof(path));
    rc = output_append(o, fd, path, err);
    close(fd);
    return rc;
}

/* fsync on what cannot be synced (a pipe, a terminal, some file systems) is no failure. */
static int
sync_fd(int fd)
{
    return fsync(fd) == 0 || errno == EINVAL || errno == EROFS || errno == ENOTSUP ? 0 : -1;
}

static int
sync_dir(const char *dir, struct error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && sync_fd(fd) == 0 ? 0 : error_errno(err, "cannot sync directory %s", dir);

    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* After the rename: the output's directory, and the parent of each directory made for it, so
 * that the new names are on disk too. */
static int
sync_dirs(const struct output *o, struct error *err)
{
    char *dir = path_dirname(o->path);
    int rc = dir != NULL ? sync_dir(dir, err) : error_set(err, "out of memory");
    size_t i;

    free(dir);
    for (i = 0; rc == 0 && i < o->made.n; i++) {
        dir = path_dirname(o->made.dirs[i]);
        rc = dir != NULL ? sync_dir(dir, err) : error_set(err, "out of memory");
        free(dir);
    }
    return rc;
}

/* The temporary file renamed over the output. Once renamed, nothing is removed any more. */
static int
replace(struct output *o, struct error *err)
{
    int fd = o->fd;

    o->fd = -1;
    if (o->fsync && fsync(fd) != 0) {
        error_errno(err, "cannot sync the output %s (as %s)", o->path, o->tmp_path);
        close(fd);
        return -1;
    }
    if (close(fd) != 0) {
        return error_errno(err, "cannot write the output %s (as %s)", o->path, o->tmp_path);
    }
    if (rename(o->tmp_path, o->path) != 0) {
        return error_errno(err, "cannot rename %s to %s", o->tmp_path, o->path);
    }
    free(o->tmp_path);
    o->tmp_path = NULL;
    if (o->fsync && sync_dirs(o, err) != 0) {
        path_made_release(&o->made);
        return error_prefix(err, "the output %s is in place, but may not be on disk yet", o->path);
    }
    path_made_release(&o->made);
    return 0;
}

/* An output written in place: synced where it can be, and closed (standard output's copy is
 * above descriptor 2: run.c moved it there for the run). */
static int
finish_in_place(struct output *o, struct error *err)
{
    int fd = o->fd;

    o->fd = -1;
    if (o->fsync && sync_fd(fd) != 0) {
        error_errno(err, "cannot sync the output %s", o->path);
        if (fd > STDERR_FILENO) {
            close(fd);
        }
        return -1;
    }
    if (fd > STDERR_FILENO && close(fd) != 0) {
        return error_errno(err, "cannot write the output %s", o->path);
    }
    return 0;
}

int
output_commit(struct output *o, struct error *err)
{
    int rc = o->tmp_path != NULL ? replace(o, err) : finish_in_place(o, err);

    output_abort(o); /* only what is left: the part directory, and on failure the rest */
    return rc;
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
    parts_release(&o->parts);
    path_made_undo(&o->made);
    free(o->path);
    o->path = NULL;
}
