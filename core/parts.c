/* core/parts.c: the job's private part directory and its part files (see parts.h). */
#include "parts.h"

#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
part_name(size_t k, char *buf, size_t size)
{
    snprintf(buf, size, "part-%06zu", k);
}

void
parts_path(const struct parts *p, size_t k, char *buf, size_t size)
{
    snprintf(buf, size, "%s/part-%06zu", p->dir != NULL ? p->dir : "(no part directory)", k);
}

/* The directory just made must be this user's and private: anything else means someone swapped
 * it between mkdtemp and open, which only a writer of `where` could do. */
static int
check_private(int fd, const char *dir, struct error *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        return error_errno(err, "cannot check the part directory %s", dir);
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        return error_set(err, "the part directory %s was replaced as it was made", dir);
    }
    return 0;
}

int
parts_init(struct parts *p, const char *where, struct error *err)
{
    struct parts made = PARTS_NONE;
    int rc = -1;

    *p = PARTS_NONE;
    path_remove_stale(where, ".tranche-parts.", ""); /* a killed run's */
    if (asprintf(&made.dir, "%s/.tranche-parts.XXXXXX", where) < 0) {
        made.dir = NULL;
        return error_set(err, "out of memory");
    }
    if (mkdtemp(made.dir) == NULL) {
        error_errno(err, "cannot create a part directory in %s", where);
        goto out;
    }
    made.dir_fd = open(made.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (made.dir_fd < 0) {
        error_errno(err, "cannot open the part directory %s", made.dir);
        rmdir(made.dir);
        goto out;
    }
    if (check_private(made.dir_fd, made.dir, err) != 0) {
        goto out; /* not ours: leave it alone */
    }
    path_hold(made.dir_fd);
    *p = made;
    made = PARTS_NONE;
    rc = 0;
out:
    if (made.dir_fd >= 0) {
        close(made.dir_fd);
    }
    free(made.dir);
    return rc;
}

int
parts_create(const struct parts *p, size_t k, int *fd_out, struct error *err)
{
    char name[32], path[4200];
    int fd;

    part_name(k, name, sizeof(name));
    fd = openat(p->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        parts_path(p, k, path, sizeof(path));
        return error_errno(err, "cannot create part file %s", path);
    }
    *fd_out = fd;
    return 0;
}

int
parts_take(const struct parts *p, size_t k, int *fd_out, struct error *err)
{
    char name[32], path[4200];
    int fd;

    part_name(k, name, sizeof(name));
    fd = openat(p->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        parts_path(p, k, path, sizeof(path));
        return error_errno(err, "cannot open part file %s", path);
    }
    if (parts_remove(p, k, err) != 0) {
        close(fd);
        return -1;
    }
    *fd_out = fd;
    return 0;
}

int
parts_remove(const struct parts *p, size_t k, struct error *err)
{
    char name[32], path[4200];

    part_name(k, name, sizeof(name));
    if (unlinkat(p->dir_fd, name, 0) != 0) {
        parts_path(p, k, path, sizeof(path));
        return error_errno(err, "cannot remove part file %s", path);
    }
    return 0;
}

/* Removes the directory by name only if the name still leads to the directory made (a writer of
 * its parent could have moved it, and put something else there). */
static void
remove_dir(const struct parts *p)
{
    struct stat mine, named;

    if (fstat(p->dir_fd, &mine) == 0 && lstat(p->dir, &named) == 0 && mine.st_dev == named.st_dev &&
        mine.st_ino == named.st_ino) {
        rmdir(p->dir);
    }
}

void
parts_release(struct parts *p)
{
    if (p->dir != NULL && p->dir_fd >= 0) {
        path_empty_dir(p->dir_fd);
        remove_dir(p);
        close(p->dir_fd);
    }
    free(p->dir);
    *p = PARTS_NONE;
}
