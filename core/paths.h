/* core/paths.h: path helpers the core shares: a path's directory, mkdir -p, the default log
 * directory of a job. */
#ifndef TRANCHE_PATHS_H
#define TRANCHE_PATHS_H

#include "error.h"

/* The directory part of a path ("." when it has none, "/" for a file in the root); malloc'd,
 * NULL when out of memory. */
char *path_dirname(const char *path);

/* Creates `dir` and its parents as needed (mode 0777 before umask), like mkdir -p. */
int path_mkdirs(const char *dir, struct error *err);

/* $TMPDIR/tranche-logs-UID/NAME (TMPDIR defaults to /tmp), NAME being the job file's name
 * without its directory and extension; malloc'd, NULL when out of memory. */
char *path_default_log_dir(const char *job_path);

#endif
