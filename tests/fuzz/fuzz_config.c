/*
 * tests/fuzz/fuzz_config.c: libFuzzer target for the job-file loader (core/config.c). Whatever
 * bytes a job file holds, config_load() returns 0 or -1 with a message: no crash, no hang, no
 * leak. The bytes are written to a file in a private empty directory, as config_load reads a
 * path. Globs are expanded only inside that directory (glob64(3), which glob(3) is here, is wrapped
 * at link time): a fuzzed pattern of many stars must not walk the machine's file system.
 */
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "io.h"

static char dir[] = "/tmp/tranche-fuzz-config-XXXXXX";
static char path[256];

int __real_glob64(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g);
int __wrap_glob64(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g);

/* glob64(3), for patterns under the private directory only; anything else matches nothing. */
int
__wrap_glob64(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g)
{
    size_t len = strlen(dir);

    if (strncmp(pattern, dir, len) != 0 || pattern[len] != '/' || strstr(pattern, "..") != NULL) {
        memset(g, 0, sizeof(*g));
        return GLOB_NOMATCH;
    }
    return __real_glob64(pattern, flags, errfunc, g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct job job;
    struct error err;
    FILE *f;

    if (path[0] == '\0') {
        if (mkdtemp(dir) == NULL) {
            abort();
        }
        snprintf(path, sizeof(path), "%s/job.yaml", dir);
    }
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        abort();
    }
    memset(&job, 0, sizeof(job));
    if (config_load(path, &job, &err) == 0) {
        config_release(&job);
    } else if (err.msg[0] == '\0') {
        abort(); /* a failure must say why */
    }
    return 0;
}
