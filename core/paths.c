/* core/paths.c: path helpers. */
#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"

char *
path_dirname(const char *path)
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

/* Notes `dir` as created; 0, or -1 when out of memory. */
static int
note_made(struct path_made *made, const char *dir)
{
    char *copy;

    if (made == NULL) {
        return 0;
    }
    copy = strdup(dir);
    if (copy == NULL || GROW(made->dirs, made->cap, made->n + 1) != 0) {
        free(copy);
        return -1;
    }
    made->dirs[made->n++] = copy;
    return 0;
}

int
path_mkdirs_undoable(const char *dir, struct path_made *made, struct error *err)
{
    char path[4096];
    size_t len = strlen(dir), i;

    if (len == 0 || len >= sizeof(path)) {
        return error_set(err, "bad directory name '%s'", dir);
    }
    if (path_check_default_log_dir(dir, err) != 0) {
        return ERR_INVALID; /* never make directories through what someone else planted there */
    }
    memcpy(path, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            char saved = path[i];
            path[i] = '\0';
            /* 0775: others may read what tranche makes, never write into it (a umask of 0 would
             * otherwise give directories anyone could plant files in). */
            if (mkdir(path, 0775) == 0) {
                if (note_made(made, path) != 0) {
                    return error_set(err, "out of memory");
                }
            } else if (errno != EEXIST) {
                return error_errno(err, "cannot create directory %s", path);
            }
            path[i] = saved;
        }
    }
    return 0;
}

int
path_mkdirs(const char *dir, struct error *err)
{
    return path_mkdirs_undoable(dir, NULL, err);
}

void
path_made_undo(struct path_made *made)
{
    size_t i = made->n;

    while (i > 0 && rmdir(made->dirs[i - 1]) == 0) {
        i--;
    }
    path_made_release(made);
}

void
path_made_release(struct path_made *made)
{
    size_t i;

    for (i = 0; i < made->n; i++) {
        free(made->dirs[i]);
    }
    free(made->dirs);
    memset(made, 0, sizeof(*made));
}

char *
path_default_log_base(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;

    if (asprintf(&dir, "%s/tranche-logs-%ld", tmp != NULL && *tmp != '\0' ? tmp : "/tmp",
                 (long)getuid()) < 0) {
        return NULL;
    }
    return dir;
}

/* FNV-1a: a short, stable tag of a job file's absolute path (not a secret, only a name). */
static uint64_t
path_tag(const char *text)
{
    uint64_t h = 14695981039346656037ull;

    for (; *text != '\0'; text++) {
        h = (h ^ (unsigned char)*text) * 1099511628211ull;
    }
    return h;
}

/* The job file's absolute path: resolved when it exists, else the working directory before a
 * relative one; malloc'd, NULL when out of memory. */
static char *
absolute_job_path(const char *job_path)
{
    char *real = realpath(job_path, NULL), *cwd, *out = NULL;

    if (real != NULL || job_path[0] == '/') {
        return real != NULL ? real : strdup(job_path);
    }
    cwd = getcwd(NULL, 0);
    if (asprintf(&out, "%s/%s", cwd != NULL ? cwd : "", job_path) < 0) {
        out = NULL;
    }
    free(cwd);
    return out;
}

char *
path_default_log_dir(const char *job_path)
{
    const char *base = strrchr(job_path, '/');
    char *logs = path_default_log_base(), *full = absolute_job_path(job_path), *dir = NULL, *dot;
    char name[200];

    base = base != NULL ? base + 1 : job_path;
    snprintf(name, sizeof(name), "%s", base);
    dot = strrchr(name, '.');
    if (dot != NULL && dot != name) {
        *dot = '\0';
    }
    for (dot = name; *dot != '\0'; dot++) {
        if (*dot == ' ' || (unsigned char)*dot < 0x20) {
            *dot = '-'; /* ("command-line job": a path that pastes without quotes) */
        }
    }
    if (logs == NULL || full == NULL ||
        asprintf(&dir, "%s/%s-%012" PRIx64, logs, name, path_tag(full) >> 16) < 0) {
        dir = NULL;
    }
    free(logs);
    free(full);
    return dir;
}

/* One directory on the way to a default log directory: 0 when it is missing (it will be made)
 * or safe, else ERR_INVALID with what is wrong. */
static int
check_shared_dir(const char *dir, struct error *err)
{
    struct stat st;

    if (lstat(dir, &st) != 0) {
        return errno == ENOENT ? 0 : error_errno(err, "cannot check the log directory %s", dir);
    }
    if (S_ISLNK(st.st_mode)) {
        error_set(err,
                  "the log directory %s is a symbolic link: tranche does not follow links "
                  "there (remove it, or give --log-dir)",
                  dir);
    } else if (!S_ISDIR(st.st_mode)) {
        error_set(err, "the log directory %s is not a directory", dir);
    } else if (st.st_uid != geteuid()) {
        error_set(err,
                  "the log directory %s belongs to uid %ld, not to you (uid %ld): someone "
                  "else made it (remove it, or give --log-dir)",
                  dir, (long)st.st_uid, (long)geteuid());
    } else if ((st.st_mode & S_IWOTH) != 0) {
        error_set(err,
                  "the log directory %s is writable by others (mode %04o): anyone could "
                  "plant files in it (chmod o-w it, or give --log-dir)",
                  dir, (unsigned)(st.st_mode & 07777));
    } else {
        return 0;
    }
    return ERR_INVALID;
}

int
path_check_default_log_dir(const char *dir, struct error *err)
{
    char *base = path_default_log_base(), *path = NULL;
    size_t len, end, i;
    int rc = ERR_INVALID;

    if (base == NULL || (path = strdup(dir)) == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    len = strlen(base);
    end = strlen(path);
    rc = 0;
    if (strncmp(path, base, len) != 0 || (path[len] != '/' && path[len] != '\0')) {
        goto out; /* not in the shared place: the user chose it */
    }
    /* The base, then every directory below it down to dir. */
    for (i = len; i <= end && rc == 0; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            char saved = path[i];
            path[i] = '\0';
            rc = check_shared_dir(path, err);
            path[i] = saved;
        }
    }
out:
    free(base);
    free(path);
    return rc;
}

void
path_hold(int fd)
{
    flock(fd, LOCK_EX | LOCK_NB);
}

static int
matches(const char *name, const char *prefix, const char *suffix)
{
    size_t n = strlen(name), p = strlen(prefix), s = strlen(suffix);

    return n > p + s && strncmp(name, prefix, p) == 0 && strcmp(name + n - s, suffix) == 0;
}

void
path_empty_dir(int dir_fd)
{
    int fd = dup(dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            unlinkat(dir_fd, e->d_name, 0);
        }
    }
    closedir(d);
}

/* Removes entry `name` of the directory open on dir_fd if it is this user's and no run holds it. */
static void
remove_if_stale(int dir_fd, const char *name)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;

    if (fd < 0) {
        return;
    }
    if (fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
        (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        if (S_ISDIR(st.st_mode)) {
            path_empty_dir(fd);
            unlinkat(dir_fd, name, AT_REMOVEDIR);
        } else {
            unlinkat(dir_fd, name, 0);
        }
    }
    close(fd);
}

void
path_remove_stale(const char *dir, const char *prefix, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (matches(e->d_name, prefix, suffix)) {
            remove_if_stale(dirfd(d), e->d_name);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

/* A run directory's name: run-YYYYmmddTHHMMSS.mmmZ-XXXXXX (UTC), so that names sort by age. */
#define RUN_PREFIX "run-"

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes the oldest run directories of dir beyond the newest `keep`, except one a live run
 * holds. Errors are ignored: an old run's logs left behind are only litter. */
static void
prune_runs(const char *dir, size_t keep)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL, *copy;
    size_t n = 0, cap = 0, i;

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (!matches(e->d_name, RUN_PREFIX, "")) {
            continue;
        }
        copy = strdup(e->d_name);
        if (copy == NULL || GROW(names, cap, n + 1) != 0) {
            free(copy);
            break;
        }
        names[n++] = copy;
    }
    if (n > 1) {
        qsort(names, n, sizeof(*names), by_name);
    }
    for (i = 0; i + keep < n; i++) {
        remove_if_stale(dirfd(d), names[i]);
    }
    for (i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    if (d != NULL) {
        closedir(d);
    }
}

/* Points dir/latest at the run directory `name` (in dir): a new link renamed over the old one,
 * so that `latest` is never missing and never followed. */
static int
point_latest(const char *dir, const char *name, struct error *err)
{
    char *tmp = NULL, *latest = NULL;
    int rc = ERR_INVALID;

    if (asprintf(&tmp, "%s/.latest.%ld", dir, (long)getpid()) < 0) {
        tmp = NULL;
    }
    if (tmp == NULL || asprintf(&latest, "%s/latest", dir) < 0) {
        latest = NULL;
        error_set(err, "out of memory");
        goto out;
    }
    unlink(tmp);
    if (symlink(name, tmp) != 0 || rename(tmp, latest) != 0) {
        error_errno(err, "cannot point %s at %s", latest, name);
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(latest);
    return rc;
}

int
path_new_run_dir(const char *dir, size_t keep, int link_latest, char **run_dir, int *hold_fd,
                 struct error *err)
{
    struct timespec now;
    struct tm tm;
    char stamp[32], *path = NULL;
    int fd;

    if (path_mkdirs(dir, err) != 0) {
        return ERR_INVALID;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    if (asprintf(&path, "%s/" RUN_PREFIX "%s.%03ldZ-XXXXXX", dir, stamp, now.tv_nsec / 1000000) <
        0) {
        error_set(err, "out of memory");
        return ERR_INVALID;
    }
    if (mkdtemp(path) == NULL) {
        error_errno(err, "cannot create a log directory in %s", dir);
        free(path);
        return ERR_INVALID;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || (link_latest && point_latest(dir, strrchr(path, '/') + 1, err) != 0)) {
        if (fd < 0) {
            error_errno(err, "cannot open the log directory %s", path);
        } else {
            close(fd);
        }
        rmdir(path);
        free(path);
        return ERR_INVALID;
    }
    path_hold(fd); /* a run that starts meanwhile does not prune this one's logs */
    prune_runs(dir, keep);
    *run_dir = path;
    *hold_fd = fd;
    return 0;
}

/*
 * The file systems whose files are made up as they are read: their sizes (0, 4096, or the size
 * of memory) say nothing of what a read gives, and tranche plans by size. Others (cgroup, FUSE)
 * report 0 for files with content (input.c's check_size_is_content() finds those). No file can be
 * made in them either.
 */
const char *
path_virtual_fs(long type)
{
    switch (type) {
    case PROC_SUPER_MAGIC:
        return "/proc";
    case SYSFS_MAGIC:
        return "/sys";
    case DEBUGFS_MAGIC:
        return "debugfs";
    case TRACEFS_MAGIC:
        return "tracefs";
    case SECURITYFS_MAGIC:
        return "securityfs";
    default:
        return NULL;
    }
}

/* Whether the directory `dir` could be made and written in (run makes it, validate only looks):
 * it, or the nearest of its parents that exists, is a directory this user may write in, on a
 * file system where files can be made. */
int
path_check_writable_dir(const char *dir, const char *what, struct error *err)
{
    char *at = strdup(dir), *up;
    struct statfs fs;
    struct stat st;
    const char *virt;
    int rc = 0;

    while (at != NULL && stat(at, &st) != 0 && errno == ENOENT && strcmp(at, "/") != 0 &&
           strcmp(at, ".") != 0) {
        up = path_dirname(at);
        free(at);
        at = up;
    }
    if (at == NULL) {
        rc = error_set(err, "out of memory");
    } else if (stat(at, &st) != 0) {
        rc = error_errno(err, "%s %s: cannot use %s", what, dir, at);
    } else if (!S_ISDIR(st.st_mode)) {
        rc = error_set(err, "%s %s: %s is not a directory", what, dir, at);
    } else if (statfs(at, &fs) == 0 && (virt = path_virtual_fs((long)fs.f_type)) != NULL) {
        rc = error_set(err, "%s %s: %s is in %s, where no file can be made", what, dir, at, virt);
    } else if (access(at, W_OK | X_OK) != 0) {
        rc = error_errno(err, "%s %s: cannot write in %s", what, dir, at);
    }
    free(at);
    return rc != 0 ? ERR_INVALID : 0;
}
