/* tests/plugins/failer.c: a pass-through fixture that misbehaves, in the way option `mode` names,
 * on the first record containing option `match` (or the `nth` such record this process sees, a
 * stateful plugin's failure: it depends on which partitions the process ran, in which order);
 * it tests how workers report plugin failures.
 * Option `marker` names a file it creates on reaching that record, before misbehaving, so that a
 * test can wait for that state instead of for a time. */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tranche/plugin.h>

enum failer_mode {
    MODE_ERROR,
    MODE_CRASH,
    MODE_ABORT,
    MODE_EXIT,
    MODE_STDERR,
    MODE_HANG,
    MODE_INIT_EMIT,
    MODE_SLOW,
    MODE_WAIT,
    MODE_PRINT
};

struct failer_state {
    const char *release;
    const char *marker;
    const char *match;
    size_t match_len;
    enum failer_mode mode;
    int hit;
    int64_t nth;  /* misbehave on the nth matching record this process sees */
    int64_t seen; /* matching records seen so far */
};

static const struct tranche_host *host;

static const char *const mode_names[] = {"error", "crash",     "abort", "exit", "stderr",
                                         "hang",  "init_emit", "slow",  "wait", "print"};

static const struct tranche_option failer_options[] = {
    {"match", TRANCHE_OPT_STRING, NULL, 1, "substring of the record to fail on"},
    {"mode", TRANCHE_OPT_STRING, "error", 0,
     "how to fail: error, crash, abort, exit, stderr, hang, init_emit (emit from init), or "
     "slow (1 ms per record from then on), wait (until the file `release` exists), or print "
     "(printf every record from then on to stdout)"},
    {"release", TRANCHE_OPT_STRING, NULL, 0, "wait mode: the file whose creation lets it go on"},
    {"marker", TRANCHE_OPT_STRING, NULL, 0,
     "a file to create on reaching the matching record, before the mode's action (a test waits "
     "for it)"},
    {"nth", TRANCHE_OPT_INT, "1", 0,
     "misbehave on the nth matching record this process sees, counted across its partitions; "
     "it first says on stderr which record that is"},
    {NULL, 0, NULL, 0, NULL},
};

static int
parse_mode(const char *name, enum failer_mode *out)
{
    for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
        if (strcmp(name, mode_names[i]) == 0) {
            *out = (enum failer_mode)i;
            return 0;
        }
    }
    return -1;
}

static int
failer_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    const char *match;
    const char *mode;
    struct failer_state *s;

    host = h;
    match = host->opt_string(ctx, "match");
    mode = host->opt_string(ctx, "mode");
    if (match == NULL) {
        return host->error(ctx, "option 'match' is required");
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    s->match = match;
    s->release = host->opt_string(ctx, "release");
    s->marker = host->opt_string(ctx, "marker");
    s->match_len = strlen(match);
    s->nth = host->opt_int(ctx, "nth");
    s->mode = MODE_ERROR;
    if (mode != NULL && parse_mode(mode, &s->mode) != 0) {
        free(s);
        return host->error(ctx, "unknown mode '%s'", mode);
    }
    *state = s;
    if (s->mode == MODE_INIT_EMIT) {
        int rc = host->emit(ctx, "from init", 9); /* not allowed: the host must refuse it */
        if (rc != TRANCHE_OK) {
            free(s); /* a failed init gets no fini */
            *state = NULL;
        }
        return rc;
    }
    return TRANCHE_OK;
}

/* Does the mode's thing; returns only for the modes that let the worker go on. */
static int
fail(struct failer_state *s, tranche_ctx *ctx, const char *data, size_t len)
{
    int shown = len > 200 ? 200 : (int)len;

    switch (s->mode) {
    case MODE_ERROR:
        return host->error(ctx, "failer hit record '%.*s'", shown, data);
    case MODE_CRASH:
        /* Restore the default action first, so that a sanitizer's SEGV handler cannot turn the
         * crash into an ordinary exit: the test wants death by signal. */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        break;
    case MODE_ABORT:
        abort();
    case MODE_EXIT:
        exit(3);
    case MODE_STDERR:
        fprintf(stderr, "failer: stderr line for %.*s\n", shown, data);
        fflush(stderr);
        return TRANCHE_OK;
    case MODE_HANG:
        for (;;) {
            pause();
        }
    case MODE_INIT_EMIT:
        break;
    case MODE_SLOW:
        return TRANCHE_OK;
    case MODE_PRINT:
        return TRANCHE_OK;
    case MODE_WAIT:
        while (s->release != NULL && access(s->release, F_OK) != 0) {
            usleep(10000);
        }
        return TRANCHE_OK;
    }
    return TRANCHE_ERROR;
}

/* Creates the marker file: a test polls for it to know the record was reached. */
static int
mark(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        return -1;
    }
    return close(fd);
}

static int
failer_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct failer_state *s = state;

    if (s->hit && s->mode == MODE_SLOW) {
        usleep(1000);
    }
    if ((s->hit || memmem(data, len, s->match, s->match_len) != NULL) && s->mode == MODE_PRINT) {
        printf("failer: print %.*s\n", (int)len, data);
    }
    if (!s->hit && memmem(data, len, s->match, s->match_len) != NULL && ++s->seen >= s->nth) {
        s->hit = 1;
        if (s->nth > 1) {
            fprintf(stderr, "failer: record %lld of this process: '%.*s'\n", (long long)s->seen,
                    len > 200 ? 200 : (int)len, data);
            fflush(stderr);
        }
        if (s->marker != NULL && mark(s->marker) != 0) {
            return host->error(ctx, "cannot create marker %s", s->marker);
        }
        if (fail(s, ctx, data, len) != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
    }
    return host->emit(ctx, data, len);
}

static void
failer_fini(void *state)
{
    /* Lands in the worker's log: tests check that fini runs after a failure too. */
    fprintf(stderr, "failer: fini\n");
    free(state);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "failer",
    .version = "1.0",
    .description = "test fixture: fails in a chosen way on the first matching record",
    .options = failer_options,
    .init = failer_init,
    .record = failer_record,
    .fini = failer_fini,
};
