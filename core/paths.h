/* core/paths.h: path helpers the core shares: a path's directory, mkdir -p (and its undoing),
 * the default log directory of a job and the checks on that shared place. */
#ifndef TRANCHE_PATHS_H
#define TRANCHE_PATHS_H

#include <stddef.h>

#include "error.h"

/* The directory part of a path ("." when it has none, "/" for a file in the root); malloc'd,
 * NULL when out of memory. */
char *path_dirname(const char *path);

/* Creates `dir` and its parents as needed, like mkdir -p. A directory it creates has mode 0775
 * before umask: never writable by others, whatever the umask. Below the default log base, the
 * directories that exist are checked first (path_check_default_log_dir): ERR_INVALID. */
int path_mkdirs(const char *dir, struct error *err);

/* The directories one path_mkdirs_undoable call created, shallowest first. */
struct path_made {
    char **dirs;
    size_t n, cap;
};

/* path_mkdirs, noting in *made (which the caller zeroes first, and releases with
 * path_made_undo or path_made_release) each directory it created: the caller can remove them
 * again when what it made them for failed. On failure, those created so far are noted too. */
int path_mkdirs_undoable(const char *dir, struct path_made *made, struct error *err);

/* Removes the directories in *made, deepest first, each only if it is empty, and stops at the
 * first it cannot remove (someone put something in it); then releases *made. Safe on a zeroed
 * struct, and to repeat. */
void path_made_undo(struct path_made *made);

/* Forgets the directories in *made without removing them (the job succeeded). Leaves it
 * zeroed. */
void path_made_release(struct path_made *made);

/* $TMPDIR/tranche-logs-UID (TMPDIR defaults to /tmp): where the default log directories go;
 * malloc'd, NULL when out of memory. */
char *path_default_log_base(void);

/* path_default_log_base()/NAME-TAG, NAME being the job file's name without its directory and
 * extension, TAG 12 hex digits of a hash of its absolute path: two job.yaml in different
 * directories do not share. malloc'd, NULL when out of memory. */
char *path_default_log_dir(const char *job_path);

/* How many run directories a job's default log directory keeps (the newest). */
#define PATH_LOG_RUNS_KEPT 10

/*
 * Makes a new run directory in `dir` (made first if missing, checked as path_mkdirs does):
 * DIR/run-YYYYmmddTHHMMSS.mmmZ-XXXXXX (mkdtemp: new, mode 0700), points DIR/latest (a relative
 * symbolic link) at it when link_latest (a replay leaves `latest` at the run it replays), and
 * removes the oldest run directories beyond the newest `keep`, except those a live run holds.
 * *run_dir (malloc'd) and *hold_fd (the directory, locked for this run: close it when the run ends)
 * are set only on success. Returns 0 or ERR_INVALID.
 */
int path_new_run_dir(const char *dir, size_t keep, int link_latest, char **run_dir, int *hold_fd,
                     struct error *err);

/*
 * When `dir` is the default log base or below it: checks that the base, and each directory from
 * it down to `dir` that exists, is a directory (not a symbolic link), owned by this user and not
 * writable by others. The base is in a shared place ($TMPDIR, usually /tmp), where anyone can
 * make it first and plant links or files in it. Returns 0 for any other directory, ERR_INVALID
 * with a message naming the directory and what is wrong otherwise.
 */
int path_check_default_log_dir(const char *dir, struct error *err);

/*
 * Temporary files and directories of a run killed outright (SIGKILL, a power loss) are removed by
 * the next run that makes the same kind in the same place. A live run holds an exclusive flock
 * on each it makes (path_hold; its workers share the lock through the inherited descriptor), so
 * one that nobody holds a lock on is a dead run's, whatever machine or container it ran in.
 */

/* Removes the files in the directory open on dir_fd (one level: part directories hold only
 * files); errors are ignored. */
void path_empty_dir(int dir_fd);

/* Takes the lock that says a run is alive and uses the file or directory open on fd. */
void path_hold(int fd);

/* Removes the entries of dir whose names start with prefix and end with suffix, that belong to
 * this user and that no live run holds (a directory with what is in it). Errors are ignored: a
 * leftover is only litter. */
void path_remove_stale(const char *dir, const char *prefix, const char *suffix);

/* The name of a file system whose files are made up as they are read ("/proc", "/sys",
 * "debugfs", ...) for statfs's f_type, or NULL. */
const char *path_virtual_fs(long type);

/*
 * Whether the directory `dir` could be made and written in: it, or the nearest of its parents
 * that exists, is a directory this user may write in, not in /proc, /sys or the like. `what`
 * names it in messages ("log directory", "output directory"). Returns 0, or ERR_INVALID with err
 * naming the directory and what is wrong.
 */
int path_check_writable_dir(const char *dir, const char *what, struct error *err);
#endif
