/*
 * tests/fuzz/fuzz_config.c: libFuzzer target for the job-file loader (core/config.c). Whatever
 * bytes a job file holds, config_load() returns 0 or -1 with a message: no crash, no hang, no
 * leak. The bytes are written to a file in a private empty directory, as config_load reads a
 * path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "io.h"

static char path[256];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct job job;
    struct error err;
    FILE *f;

    if (path[0] == '\0') {
        char dir[] = "/tmp/tranche-fuzz-config-XXXXXX";
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
