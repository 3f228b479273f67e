/* tests/plugins/poison.c: a pass-through fixture whose records poison it: on EVERY record that
 * contains option `match`, it fails in the way option `mode` names (error, crash, abort, exit,
 * hang, oom: allocates without bound under a 256 MiB address-space limit, then dies as the OOM
 * killer would kill it). Options make the poison weaker, for P6's retries and probes:
 *   `once`: a directory: it misbehaves only the first time any process meets a given record
 *           (it notes each record's offset there), as a flaky failure would;
 *   `with_others`: it misbehaves only when the record is not the first of its partition that it
 *           sees, so the record alone (a probe) goes through. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <tranche/plugin.h>

struct poison {
    const char *match;
    size_t match_len;
    const char *mode;
    const char *once;
    int with_others;
    uint64_t seen; /* records of this partition seen */
};

static const struct tranche_host *host;

static const struct tranche_option poison_options[] = {
    {"match", TRANCHE_OPT_STRING, NULL, 1, "substring of the records to fail on"},
    {"mode", TRANCHE_OPT_STRING, "error", 0, "error, crash, abort, exit, hang or oom"},
    {"once", TRANCHE_OPT_STRING, NULL, 0,
     "a directory: fail on a record only the first time any process meets it"},
    {"with_others", TRANCHE_OPT_BOOL, "false", 0,
     "fail only when the record is not the first of its partition this process runs"},
    {NULL, 0, NULL, 0, NULL},
};

static int
poison_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    struct poison *p;

    host = h;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return host->error(ctx, "out of memory");
    }
    p->match = host->opt_string(ctx, "match");
    p->match_len = strlen(p->match);
    p->mode = host->opt_string(ctx, "mode");
    p->once = host->opt_string(ctx, "once");
    p->with_others = host->opt_bool(ctx, "with_others");
    *state = p;
    return TRANCHE_OK;
}

static int
poison_begin(void *state, tranche_ctx *ctx)
{
    (void)ctx;
    ((struct poison *)state)->seen = 0;
    return TRANCHE_OK;
}

/* Whether this is the first time any process meets the record at `offset` (once mode). */
static int
first_time(const struct poison *p, uint64_t offset)
{
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/%" PRIu64, p->once, offset);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        return 0;
    }
    close(fd);
    return 1;
}

static void
grow_without_bound(void)
{
    struct rlimit rl = {256u << 20, 256u << 20};

    setrlimit(RLIMIT_AS, &rl);
    for (;;) {
        char *p = malloc(16u << 20);
        if (p == NULL) {
            kill(getpid(), SIGKILL); /* what the OOM killer does */
        }
        memset(p, 1, 16u << 20);
    }
}

static int
poison_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct poison *p = state;
    const struct tranche_record_info *info = host->record_info(ctx);
    int first_of_partition = p->seen++ == 0;

    if (memmem(data, len, p->match, p->match_len) == NULL ||
        (p->with_others && first_of_partition) ||
        (p->once != NULL && !first_time(p, info->offset))) {
        return host->emit(ctx, data, len);
    }
    if (strcmp(p->mode, "crash") == 0) {
        signal(SIGSEGV, SIG_DFL); /* (not a sanitizer's handler: death by the signal) */
        raise(SIGSEGV);
    } else if (strcmp(p->mode, "abort") == 0) {
        abort();
    } else if (strcmp(p->mode, "exit") == 0) {
        exit(7);
    } else if (strcmp(p->mode, "hang") == 0) {
        for (;;) {
            pause();
        }
    } else if (strcmp(p->mode, "oom") == 0) {
        grow_without_bound();
    }
    return host->error(ctx, "poisoned record '%.*s'", len > 60 ? 60 : (int)len, data);
}

static void
poison_fini(void *state)
{
    free(state);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "poison",
    .version = "1.0",
    .description = "test fixture: fails on every record that holds a string",
    .options = poison_options,
    .init = poison_init,
    .begin_partition = poison_begin,
    .record = poison_record,
    .fini = poison_fini,
};
