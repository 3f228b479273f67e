/* tests/plugins/rogue.c: a pass-through fixture that breaks the rules outside record() or
 * behind the host's back, in the way option `mode` names: it crashes in init, starts a thread
 * that prints, emits from fini, calls exit(0), leaves a child process behind, or signals its
 * whole process group. For the records that contain `match` (all when not given). Option
 * `marker` names a file it writes its helper's pid to (fork modes) or creates (others). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tranche/plugin.h>

struct rogue {
    tranche_ctx *ctx; /* kept from init, for the emit from fini the contract forbids */
    const char *mode;
    const char *match;
    const char *marker;
    int done;
};

static const struct tranche_host *host;

static const struct tranche_option rogue_options[] = {
    {"mode", TRANCHE_OPT_STRING, NULL, 1,
     "init_crash, init_thread, init_killgroup, fini_emit, exit0, fork_exit, fork_linger, "
     "fork_linger_crash, kill_group, close_fds, end_crash"},
    {"match", TRANCHE_OPT_STRING, NULL, 0, "act on the first record containing this"},
    {"marker", TRANCHE_OPT_STRING, NULL, 0, "a file to write (a helper's pid, or empty)"},
    {NULL, 0, NULL, 0, NULL},
};

static void *
chatter(void *arg)
{
    (void)arg;
    for (;;) {
        printf("rogue thread line\n");
        fflush(stdout);
        usleep(200);
    }
    return NULL;
}

static int
rogue_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    struct rogue *r = calloc(1, sizeof(*r));
    pthread_t t;

    host = h;
    if (r == NULL) {
        return host->error(ctx, "out of memory");
    }
    r->ctx = ctx;
    r->mode = host->opt_string(ctx, "mode");
    r->match = host->opt_string(ctx, "match");
    r->marker = host->opt_string(ctx, "marker");
    *state = r;
    if (strcmp(r->mode, "init_crash") == 0) {
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    if (strcmp(r->mode, "init_killgroup") == 0) {
        kill(0, SIGTERM);
        pause();
    }
    if (strcmp(r->mode, "init_thread") == 0 && pthread_create(&t, NULL, chatter, NULL) == 0) {
        pthread_detach(t);
        usleep(20000); /* long enough for it to print */
    }
    return TRANCHE_OK;
}

static void
write_marker(const char *path, long pid)
{
    FILE *f;

    if (path == NULL || (f = fopen(path, "w")) == NULL) {
        return;
    }
    if (pid > 0) {
        fprintf(f, "%ld\n", pid);
    }
    fclose(f);
}

/* A helper that keeps every descriptor the worker had, and outlives it. */
static void
linger(struct rogue *r)
{
    pid_t pid = fork();

    if (pid == 0) {
        sleep(60);
        _exit(0);
    }
    write_marker(r->marker, (long)pid);
}

static void
act(struct rogue *r)
{
    if (strcmp(r->mode, "exit0") == 0) {
        exit(0);
    } else if (strcmp(r->mode, "fork_exit") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            exit(0); /* a helper that ends with exit(): its atexit handlers are the runner's */
        }
        waitpid(pid, NULL, 0);
    } else if (strncmp(r->mode, "fork_linger", 11) == 0) {
        linger(r);
        if (strcmp(r->mode, "fork_linger_crash") == 0) {
            signal(SIGSEGV, SIG_DFL);
            raise(SIGSEGV);
        }
    } else if (strcmp(r->mode, "close_fds") == 0) {
        for (int fd = 3; fd <= 20; fd++) {
            close(fd); /* tidying up, as some libraries do: the worker's input goes too */
        }
    } else if (strcmp(r->mode, "kill_group") == 0) {
        write_marker(r->marker, 0);
        kill(0, SIGTERM);
        pause();
    }
}

static int
rogue_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct rogue *r = state;

    if (!r->done && (r->match == NULL || memmem(data, len, r->match, strlen(r->match)) != NULL)) {
        r->done = 1;
        act(r);
    }
    return host->emit(ctx, data, len);
}

static int
rogue_end_partition(void *state, tranche_ctx *ctx)
{
    struct rogue *r = state;

    (void)ctx;
    if (strcmp(r->mode, "end_crash") == 0) {
        abort(); /* between records: the report must not name a record (SIGABRT: ASan leaves it) */
    }
    return TRANCHE_OK;
}

static void
rogue_fini(void *state)
{
    struct rogue *r = state;

    if (strcmp(r->mode, "fini_emit") == 0) {
        host->emit(r->ctx, "from fini", 9); /* not allowed: the job must fail */
    }
    free(r);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "rogue",
    .version = "1.0",
    .description = "test fixture: breaks the rules outside record() or behind the host's back",
    .options = rogue_options,
    .init = rogue_init,
    .record = rogue_record,
    .end_partition = rogue_end_partition,
    .fini = rogue_fini,
};
