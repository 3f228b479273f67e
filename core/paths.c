/* core/paths.c: path helpers. */
#include "paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int
path_mkdirs(const char *dir, struct error *err)
{
    char path[4096];
    size_t len = strlen(dir), i;

    if (len == 0 || len >= sizeof(path)) {
        return error_set(err, "bad directory name '%s'", dir);
    }
    memcpy(path, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            char saved = path[i];
            path[i] = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                return error_errno(err, "cannot create directory %s", path);
            }
            path[i] = saved;
        }
    }
    return 0;
}

char *
path_default_log_dir(const char *job_path)
{
    const char *tmp = getenv("TMPDIR"), *base = strrchr(job_path, '/');
    char *dir = NULL, *dot;
    char name[256];

    base = base != NULL ? base + 1 : job_path;
    snprintf(name, sizeof(name), "%s", base);
    dot = strrchr(name, '.');
    if (dot != NULL && dot != name) {
        *dot = '\0';
    }
    if (asprintf(&dir, "%s/tranche-logs-%ld/%s", tmp != NULL && *tmp != '\0' ? tmp : "/tmp",
                 (long)getuid(), name) < 0) {
        return NULL;
    }
    return dir;
}
