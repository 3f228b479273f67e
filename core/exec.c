/*
 * core/exec.c: the exec step (see exec.h for its contract). One state per step per worker: a memfd
 * that collects the partition's input, and at the end of the partition one child process.
 *
 * The child's life, and who may die how: it is forked at end_partition, dies with the worker
 * (PR_SET_PDEATHSIG, then a getppid() check) and stays in the worker's process group, so that the
 * scheduler's kill(-pgid) ends it and whatever it started. The worker is a child subreaper, so
 * what the command leaves running when it exits becomes the worker's child: killed and reaped
 * before end_partition returns. The worker reads stdout and stderr with poll() until both end;
 * the command's exit is seen on a pidfd, so a background process that keeps the pipes open
 * cannot make the worker wait for it. No path returns with a child left unreaped.
 */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chain.h"
#include "grow.h"
#include "io.h"
#include "signals.h"

#define INPUT_BATCH (1u << 20) /* records are collected here before each write to the memfd */
#define READ_CHUNK (1u << 20)  /* what one read of the command's stdout asks for */
#define PIPE_SIZE (1 << 20)    /* F_SETPIPE_SZ, where allowed */
#define TAIL_LINES 5           /* of its stderr, in the failure message */
#define TAIL_LINE_MAX 200      /* bytes of each of them */
#define LOG_LINE_MAX 4096      /* a longer stderr line is logged in pieces */
#define POLL_MS 200            /* how often the stop flag is looked at while the command runs */
#define COMMAND_TEXT_MAX 120   /* the command as messages show it */

static const struct tranche_option exec_options[] = {
    {"argv", TRANCHE_OPT_LIST, NULL, 0, "the command and its arguments (exec: [...])"},
    {"shell", TRANCHE_OPT_STRING, NULL, 0, "a command line for /bin/sh -c (exec: \"...\")"},
    {"env", TRANCHE_OPT_LIST, NULL, 0, "NAME=value, added to the environment"},
    {"cwd", TRANCHE_OPT_STRING, NULL, 0, "the directory the command runs in"},
    {NULL, 0, NULL, 0, NULL}};

struct exec {
    const struct tranche_host *host;
    tranche_ctx *ctx;
    char **argv; /* NULL-terminated (borrowed items); NULL for the shell form */
    const char *shell;
    char **env; /* NAME=value (borrowed) */
    size_t n_env;
    const char *cwd;
    struct framing fr; /* the job's (host->format()): how the output is cut into records */
    char command[COMMAND_TEXT_MAX + 8]; /* for messages */

    int memfd;
    char *in_buf; /* INPUT_BATCH bytes */
    size_t in_len;
    uint64_t in_size; /* the partition's bytes written to memfd so far */

    char *out_buf; /* stdout read but not yet emitted (a record not yet ended) */
    size_t out_len, out_cap;
    char line[LOG_LINE_MAX]; /* the stderr line being read */
    size_t line_len;
    char tail[TAIL_LINES][TAIL_LINE_MAX + 1]; /* the last lines of stderr, in a ring */
    size_t n_tail;

    /* on_error: skip: where each record of the partition is, for running it alone */
    int skipping;
    struct place {
        uint64_t offset; /* of the input record it comes from */
        uint64_t at;     /* of its first byte in the memfd */
        size_t len;
    } * places;
    size_t n_places, cap_places;
};

/* What one run of the command is doing, in end_partition. */
struct child {
    pid_t pid;
    int pidfd; /* -1 where pidfd_open is missing: the exit is then waited for after EOF */
    int out_fd, err_fd;
    int exited;
    int status;
};

const char *
exec_short_name(const struct config_step *cs, char *buf, size_t size)
{
    const char *text = "?";
    size_t i, len;

    for (i = 0; i < cs->n_options; i++) {
        const struct config_option *o = &cs->options[i];
        if ((strcmp(o->name, "argv") == 0 || strcmp(o->name, "shell") == 0) && o->n_items > 0) {
            text = o->items[0];
            break;
        }
    }
    text += strspn(text, " \t");
    len = strcspn(text, " \t\n");
    if (len > 40) {
        len = 40;
    }
    snprintf(buf, size, "%.*s", (int)len, text);
    return buf;
}

/* The command as written, for messages: its argv joined by spaces, or the shell text. */
static void
describe_command(struct exec *x)
{
    size_t used = 0, i;

    if (x->argv == NULL) {
        snprintf(x->command, sizeof(x->command), "%s", x->shell);
    } else {
        x->command[0] = '\0';
        for (i = 0; x->argv[i] != NULL && used < COMMAND_TEXT_MAX; i++) {
            used += (size_t)snprintf(x->command + used, sizeof(x->command) - used, "%s%s",
                                     i > 0 ? " " : "", x->argv[i]);
        }
    }
    if (strlen(x->command) > COMMAND_TEXT_MAX) {
        memcpy(x->command + COMMAND_TEXT_MAX - 3, "...", 4);
    }
}

/* ---- The option check: the command must exist, and the directory too ---- */

/* Whether path names an executable regular file. */
static int
executable(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The PATH the command will be looked up in: env's, else the inherited one, else execvp's
 * default. */
static const char *
search_path(const struct exec *x)
{
    const char *path;
    size_t i;

    for (i = x->n_env; i > 0; i--) {
        if (strncmp(x->env[i - 1], "PATH=", 5) == 0) {
            return x->env[i - 1] + 5;
        }
    }
    path = getenv("PATH");
    return path != NULL ? path : "/bin:/usr/bin";
}

/* Whether `name` runs, as execvp would find it: a name with '/' as is (relative to cwd, when
 * set), any other in each directory of PATH. */
static int
command_exists(const struct exec *x, const char *name)
{
    char buf[PATH_MAX];
    const char *p;

    if (strchr(name, '/') != NULL) {
        if (name[0] != '/' && x->cwd != NULL) {
            snprintf(buf, sizeof(buf), "%s/%s", x->cwd, name);
            return executable(buf);
        }
        return executable(name);
    }
    for (p = search_path(x);; p++) {
        size_t len = strcspn(p, ":");
        /* (an empty entry is the current directory, as for execvp) */
        if (len == 0) {
            snprintf(buf, sizeof(buf), "%s%s%s", x->cwd != NULL ? x->cwd : ".", "/", name);
        } else {
            snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, name);
        }
        if (executable(buf)) {
            return 1;
        }
        p += len;
        if (*p == '\0') {
            return 0;
        }
    }
}

static int
check_options(struct exec *x)
{
    struct stat st;

    if (x->cwd != NULL && stat(x->cwd, &st) != 0) {
        return x->host->option_error(x->ctx, "cwd", "%s: %s", x->cwd, strerror(errno));
    }
    if (x->cwd != NULL && !S_ISDIR(st.st_mode)) {
        return x->host->option_error(x->ctx, "cwd", "%s: not a directory", x->cwd);
    }
    if (x->argv != NULL && !command_exists(x, x->argv[0])) {
        return x->host->option_item_error(x->ctx, "argv", 0, "%s: command not found", x->argv[0]);
    }
    if (x->argv == NULL && !executable("/bin/sh")) {
        return x->host->option_error(x->ctx, "shell", "/bin/sh: command not found");
    }
    return TRANCHE_OK;
}

/* ---- init and fini ---- */

static void
exec_fini(void *state)
{
    struct exec *x = state;

    if (x == NULL) {
        return;
    }
    if (x->memfd >= 0) {
        close(x->memfd);
    }
    free(x->argv);
    free(x->env);
    free(x->in_buf);
    free(x->out_buf);
    free(x->places);
    free(x);
}

/* Copies the list option `name` into a NULL-terminated array of borrowed strings. */
static int
list_option(struct exec *x, const char *name, char ***out, size_t *n_out)
{
    size_t n = x->host->opt_list_len(x->ctx, name), i;
    char **v = calloc(n + 1, sizeof(*v));

    if (v == NULL) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        v[i] = (char *)x->host->opt_list_item(x->ctx, name, i);
    }
    *out = v;
    if (n_out != NULL) {
        *n_out = n;
    }
    return 0;
}

static int
exec_init(tranche_ctx *ctx, const struct tranche_host *host, void **state)
{
    struct exec *x = calloc(1, sizeof(*x));

    if (x == NULL) {
        return host->error(ctx, "out of memory");
    }
    x->host = host;
    x->ctx = ctx;
    x->memfd = -1;
    x->shell = host->opt_string(ctx, "shell");
    x->cwd = host->opt_string(ctx, "cwd");
    framing_from_format(&x->fr, host->format(ctx));
    if ((x->shell == NULL && list_option(x, "argv", &x->argv, NULL) != 0) ||
        list_option(x, "env", &x->env, &x->n_env) != 0) {
        exec_fini(x);
        return host->error(ctx, "out of memory");
    }
    if (x->argv != NULL && x->argv[0] == NULL) {
        exec_fini(x);
        return host->error(ctx, "no command to run: exec needs a command line or a list");
    }
    describe_command(x);
    if (host->is_option_check(ctx)) {
        int rc = check_options(x);
        exec_fini(x);
        return rc;
    }
    /* What the command leaves running when it exits becomes this process's child, to be
     * killed and reaped (see the top of this file). */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    x->memfd = memfd_create("tranche-exec-input", MFD_CLOEXEC);
    x->in_buf = malloc(INPUT_BATCH);
    if (x->memfd < 0 || x->in_buf == NULL) {
        int e = errno;
        exec_fini(x);
        return host->error(ctx, "cannot create the command's input file: %s", strerror(e));
    }
    *state = x;
    return TRANCHE_OK;
}

/* ---- Input: the partition's records into the memfd ---- */

static int
flush_input(struct exec *x)
{
    if (x->in_len > 0 && io_write_all(x->memfd, x->in_buf, x->in_len) != 0) {
        return x->host->error(x->ctx, "cannot write the command's input (%zu bytes) to memory: %s",
                              x->in_len, strerror(errno));
    }
    x->in_size += x->in_len;
    x->in_len = 0;
    return TRANCHE_OK;
}

/* Rewinds the input file for the next partition. Its pages are kept (overwritten, not freed
 * and allocated again: a partition is tens of MiB); end_partition cuts the file to what the
 * partition wrote. */
static int
rewind_input(struct exec *x)
{
    x->in_len = 0;
    x->in_size = 0;
    if (lseek(x->memfd, 0, SEEK_SET) != 0) {
        return x->host->error(x->ctx, "cannot rewind the command's input file: %s",
                              strerror(errno));
    }
    return TRANCHE_OK;
}

static int
exec_begin_partition(void *state, tranche_ctx *ctx)
{
    struct exec *x = state;

    (void)ctx;
    x->out_len = 0;
    x->line_len = 0;
    x->n_tail = 0;
    x->skipping = chain_ctx_skipping(ctx);
    x->n_places = 0;
    return rewind_input(x);
}

/* Notes where the record about to be written starts (under on_error: skip). */
static int
note_place(struct exec *x, size_t len)
{
    const struct tranche_record_info *info = x->host->record_info(x->ctx);

    if (GROW(x->places, x->cap_places, x->n_places + 1) != 0) {
        return x->host->error(x->ctx, "out of memory");
    }
    x->places[x->n_places++] =
        (struct place){info != NULL ? info->offset : 0, x->in_size + x->in_len, len};
    return TRANCHE_OK;
}

static int
exec_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct exec *x = state;

    (void)ctx;
    const size_t dl = x->fr.out_len;

    if (x->in_len + len + dl > INPUT_BATCH && flush_input(x) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    if (x->skipping && note_place(x, len) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    if (len + dl > INPUT_BATCH) {
        /* A record longer than the batch goes straight in; its delimiter is at data[len] (the
         * host's NUL), so it is written apart. */
        if (io_write_all(x->memfd, data, len) != 0 || io_write_all(x->memfd, x->fr.out, dl) != 0) {
            return x->host->error(x->ctx, "cannot write the command's input to memory: %s",
                                  strerror(errno));
        }
        x->in_size += len + dl;
        return TRANCHE_OK;
    }
    memcpy(x->in_buf + x->in_len, data, len);
    x->in_len += len;
    memcpy(x->in_buf + x->in_len, x->fr.out, dl);
    x->in_len += dl;
    return TRANCHE_OK;
}

/* ---- The child ---- */

/* Closes every descriptor from `from` up. */
static void
close_from(int from)
{
    long max;
    int fd;

#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)from, ~0u, 0u) == 0) {
        return;
    }
#endif
    max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) {
        max = 65536;
    }
    for (fd = from; fd < max; fd++) {
        close(fd);
    }
}

/* In the child, after fork: never returns. Tells the parent why it could not exec (an errno
 * over report_fd, which exec closes on success), then _exit(127). */
static void __attribute__((noreturn))
become_command(const struct exec *x, pid_t parent, int in_fd, int out_fd, int err_fd, int report_fd)
{
    sigset_t all;
    size_t i;
    int sig, e;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(127); /* the worker died before the line above */
    }
    /* Whatever the worker ignores or blocks (SIGPIPE above all) is the default again. */
    for (sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            signal(sig, SIG_DFL);
        }
    }
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
        dup2(err_fd, STDERR_FILENO) < 0 || dup2(report_fd, 3) < 0 ||
        fcntl(3, F_SETFD, FD_CLOEXEC) != 0) {
        e = errno;
        goto fail;
    }
    report_fd = 3;
    close_from(4); /* no descriptor of the job reaches the command */
    for (i = 0; i < x->n_env; i++) {
        if (putenv(x->env[i]) != 0) {
            e = errno;
            goto fail;
        }
    }
    if (x->cwd != NULL && chdir(x->cwd) != 0) {
        e = errno;
        goto fail;
    }
    if (x->argv != NULL) {
        execvp(x->argv[0], x->argv);
    } else {
        execl("/bin/sh", "sh", "-c", x->shell, (char *)NULL);
    }
    e = errno;
fail:
    if (write(report_fd, &e, sizeof(e)) < 0) {
        /* the exit status below says it too */
    }
    _exit(127);
}

/* Kills and reaps what the command left behind: this process's children (the worker has no
 * others while the command runs), until none is left (killing one may reparent its own). */
static void
reap_leftovers(void)
{
    char path[64], buf[4096];
    int round;

    snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
    for (round = 0; round < 64; round++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC), any = 0;
        ssize_t n;
        char *p, *end;

        if (fd < 0) {
            break;
        }
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0) {
            break;
        }
        buf[n] = '\0';
        for (p = buf;; p = end) {
            long pid = strtol(p, &end, 10);
            if (end == p) {
                break;
            }
            if (pid > 0) {
                kill((pid_t)pid, SIGKILL);
                waitpid((pid_t)pid, NULL, 0);
                any = 1;
            }
        }
        if (!any) {
            break;
        }
    }
    /* (zombies of leftovers that exited on their own, where /proc says nothing) */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static void
close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Ends a run: kills the command (when `kill_it`) and whatever it left, reaps them, closes its
 * descriptors. */
static void
end_child(struct child *ch, int kill_it)
{
    if (ch->pid > 0 && !ch->exited) {
        if (kill_it) {
            kill(ch->pid, SIGKILL);
        }
        while (waitpid(ch->pid, &ch->status, 0) < 0 && errno == EINTR) {
        }
        ch->exited = 1;
    }
    reap_leftovers();
    close_fd(&ch->pidfd);
    close_fd(&ch->out_fd);
    close_fd(&ch->err_fd);
}

static int
spawn(struct exec *x, struct child *ch)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1}, e = 0;
    pid_t parent = getpid();
    ssize_t n;

    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
        e = errno;
        close_fd(&out[0]);
        close_fd(&out[1]);
        close_fd(&err[0]);
        close_fd(&err[1]);
        return x->host->error(x->ctx, "cannot create a pipe for command '%s': %s", x->command,
                              strerror(e));
    }
    fcntl(out[0], F_SETPIPE_SZ, PIPE_SIZE); /* (fewer wake-ups; refused past the user's limit) */
    ch->pid = fork();
    if (ch->pid == 0) {
        become_command(x, parent, x->memfd, out[1], err[1], report[1]);
    }
    e = errno;
    close(out[1]);
    close(err[1]);
    close(report[1]);
    ch->out_fd = out[0];
    ch->err_fd = err[0];
    if (ch->pid < 0) {
        close(report[0]);
        ch->pid = 0;
        end_child(ch, 0);
        return x->host->error(x->ctx, "cannot start command '%s': %s", x->command, strerror(e));
    }
    ch->pidfd = (int)syscall(SYS_pidfd_open, ch->pid, 0);
    /* The child writes an errno here when it cannot exec; exec closes it otherwise. */
    while ((n = read(report[0], &e, sizeof(e))) < 0 && errno == EINTR) {
    }
    close(report[0]);
    if (n == (ssize_t)sizeof(e)) {
        end_child(ch, 1);
        return x->host->error(x->ctx, "cannot run command '%s': %s", x->command, strerror(e));
    }
    return TRANCHE_OK;
}

/* ---- Output: stdout into records, stderr into the log ---- */

/* Emits each whole record in out_buf; keeps the rest (a record not yet ended). */
static int
emit_records(struct exec *x)
{
    char *p = x->out_buf, *end = x->out_buf + x->out_len;
    size_t rec_len, total;

    while (p < end &&
           framing_next(&x->fr, &(struct framing_scan)FRAMING_SCAN_INIT, p, (size_t)(end - p), 0,
                        &rec_len, &total, NULL) == FRAMING_RECORD) {
        if (x->host->emit(x->ctx, p, rec_len) != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
        p += total;
    }
    x->out_len = (size_t)(end - p);
    if (x->out_len > 0 && p != x->out_buf) {
        memmove(x->out_buf, p, x->out_len);
    }
    return TRANCHE_OK;
}

/* Reads what stdout has. Returns 1 while it is open, 0 at EOF, -1 on failure. */
static int
read_stdout(struct exec *x, struct child *ch)
{
    ssize_t n;

    if (GROW(x->out_buf, x->out_cap, x->out_len + READ_CHUNK) != 0) {
        x->host->error(x->ctx, "out of memory for the output of command '%s'", x->command);
        return -1;
    }
    n = read(ch->out_fd, x->out_buf + x->out_len, READ_CHUNK);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) {
            return 1;
        }
        x->host->error(x->ctx, "cannot read the output of command '%s': %s", x->command,
                       strerror(errno));
        return -1;
    }
    if (n == 0) {
        close_fd(&ch->out_fd);
        return 0;
    }
    x->out_len += (size_t)n;
    return emit_records(x) == TRANCHE_OK ? 1 : -1;
}

/* One line of stderr: to the log, and into the ring of the last lines. */
static void
stderr_line(struct exec *x)
{
    char *slot = x->tail[x->n_tail % TAIL_LINES];
    size_t len = x->line_len;

    if (len > 0 && x->line[len - 1] == '\r') {
        len--;
    }
    x->host->log(x->ctx, TRANCHE_LOG_INFO, "stderr: %.*s", (int)len, x->line);
    snprintf(slot, TAIL_LINE_MAX + 1, "%.*s", (int)len, x->line);
    x->n_tail++;
    x->line_len = 0;
}

/* Reads what stderr has. Returns 1 while it is open, 0 at EOF. */
static int
read_stderr(struct exec *x, struct child *ch)
{
    char buf[16384];
    ssize_t n = read(ch->err_fd, buf, sizeof(buf)), i;

    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 1;
    }
    if (n <= 0) {
        if (x->line_len > 0) {
            stderr_line(x);
        }
        close_fd(&ch->err_fd);
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            stderr_line(x);
        } else {
            x->line[x->line_len++] = buf[i];
            if (x->line_len == sizeof(x->line)) {
                stderr_line(x);
            }
        }
    }
    return 1;
}

/* The command exited (its pidfd said so): collects it and what it left, so that the pipes end
 * even when a leftover holds them. */
static void
collect_exit(struct child *ch)
{
    while (waitpid(ch->pid, &ch->status, 0) < 0 && errno == EINTR) {
    }
    ch->exited = 1;
    reap_leftovers();
    close_fd(&ch->pidfd);
}

/* Reads the command's output until both pipes end and the command has exited. Returns 0, or
 * -1 (a failure already reported) with the command still to be ended. */
static int
pump(struct exec *x, struct child *ch)
{
    while (ch->out_fd >= 0 || ch->err_fd >= 0 || !ch->exited) {
        struct pollfd fds[3];
        nfds_t n = 0;
        int out_at = -1, err_at = -1, pid_at = -1, rc;

        if (signals_caught) {
            x->host->error(x->ctx, "interrupted by signal SIG%s while command '%s' ran",
                           signals_name((int)signals_caught), x->command);
            return -1;
        }
        if (ch->out_fd >= 0) {
            fds[out_at = (int)n++] = (struct pollfd){ch->out_fd, POLLIN, 0};
        }
        if (ch->err_fd >= 0) {
            fds[err_at = (int)n++] = (struct pollfd){ch->err_fd, POLLIN, 0};
        }
        if (ch->pidfd >= 0 && !ch->exited) {
            fds[pid_at = (int)n++] = (struct pollfd){ch->pidfd, POLLIN, 0};
        } else if (n == 0) {
            collect_exit(ch); /* (no pidfd: both pipes ended, so it is about to exit) */
            continue;
        }
        rc = poll(fds, n, POLL_MS);
        if (rc < 0 && errno != EINTR) {
            x->host->error(x->ctx, "poll: %s", strerror(errno));
            return -1;
        }
        if (rc <= 0) {
            continue;
        }
        if (out_at >= 0 && fds[out_at].revents != 0 && read_stdout(x, ch) < 0) {
            return -1;
        }
        if (err_at >= 0 && fds[err_at].revents != 0) {
            read_stderr(x, ch);
        }
        if (pid_at >= 0 && fds[pid_at].revents != 0) {
            collect_exit(ch);
        }
    }
    return 0;
}

/* The failure message: the command, how it ended, the last lines of its stderr. */
static void
describe_failure(const struct exec *x, int status, char *msg, size_t size)
{
    char how[128], tail[TAIL_LINES * (TAIL_LINE_MAX + 8) + 64];
    size_t used = 0, i, first = x->n_tail > TAIL_LINES ? x->n_tail - TAIL_LINES : 0;

    signals_describe_status(status, how, sizeof(how));
    tail[0] = '\0';
    if (x->n_tail == 0) {
        snprintf(tail, sizeof(tail), " (nothing on its standard error)");
    }
    for (i = first; i < x->n_tail && used < sizeof(tail); i++) {
        used += (size_t)snprintf(tail + used, sizeof(tail) - used, "%s\n  | %s",
                                 i == first ? "; the last lines of its standard error:" : "",
                                 x->tail[i % TAIL_LINES]);
    }
    snprintf(msg, size, "command '%s' %s%s", x->command, how, tail);
}

static int
command_failed(struct exec *x, int status)
{
    char msg[COMMAND_TEXT_MAX + TAIL_LINES * (TAIL_LINE_MAX + 8) + 256];

    describe_failure(x, status, msg, sizeof(msg));
    return x->host->error(x->ctx, "%s", msg);
}

/* Runs the command over what the memfd holds (rewound); its output is emitted as it comes.
 * Returns TRANCHE_OK with *status, or TRANCHE_ERROR (reported, the command ended). */
static int
run_once(struct exec *x, int *status)
{
    struct child ch = {0, -1, -1, -1, 0, 0};

    if (spawn(x, &ch) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    if (pump(x, &ch) != 0) {
        end_child(&ch, 1);
        return TRANCHE_ERROR;
    }
    end_child(&ch, 0);
    *status = ch.status;
    return TRANCHE_OK;
}

/* A last record without its delimiter still counts. */
static int
emit_rest(struct exec *x)
{
    size_t len = x->out_len, rec_len, total;
    const char *why;
    int rc;

    x->out_len = 0;
    if (len == 0) {
        return TRANCHE_OK;
    }
    rc = framing_next(&x->fr, &(struct framing_scan)FRAMING_SCAN_INIT, x->out_buf, len, 1, &rec_len,
                      &total, &why);
    if (rc == FRAMING_BAD) {
        return x->host->error(x->ctx,
                              "the output of command '%s' ends with a malformed %s record: %s",
                              x->command, framing_kind_name(x->fr.kind), why);
    }
    return rc == FRAMING_RECORD ? x->host->emit(x->ctx, x->out_buf, rec_len) : TRANCHE_OK;
}

/*
 * on_error: skip, once the command failed over the whole partition (what it emitted taken
 * back): the command again over each record alone, in order; the output of those it succeeds
 * on is kept, those it fails on are left out (rejects, with the record as this step got it).
 * A process per record: slow, but only on this path.
 */
static int
run_each(struct exec *x)
{
    char msg[COMMAND_TEXT_MAX + TAIL_LINES * (TAIL_LINE_MAX + 8) + 256];
    char *all = malloc(x->in_size > 0 ? x->in_size : 1);
    uint64_t left = 0;
    size_t i;
    int rc = TRANCHE_OK, status;

    if (all == NULL || io_pread_full(x->memfd, all, x->in_size, 0) != (ssize_t)x->in_size) {
        free(all);
        return x->host->error(x->ctx, "cannot read the command's input back: %s",
                              all == NULL ? "out of memory" : strerror(errno));
    }
    x->host->log(x->ctx, TRANCHE_LOG_WARN,
                 "command '%s' failed over the partition: running it over each of its %zu "
                 "record(s) alone (on_error: skip)",
                 x->command, x->n_places);
    for (i = 0; i < x->n_places && rc == TRANCHE_OK; i++) {
        const struct place *p = &x->places[i];
        struct chain_mark mark;

        x->out_len = 0;
        x->line_len = 0;
        x->n_tail = 0;
        if (ftruncate(x->memfd, 0) != 0 || lseek(x->memfd, 0, SEEK_SET) != 0 ||
            io_write_all(x->memfd, all + p->at, p->len + 1) != 0 ||
            lseek(x->memfd, 0, SEEK_SET) != 0) {
            rc = x->host->error(x->ctx, "cannot write the command's input: %s", strerror(errno));
            break;
        }
        chain_ctx_mark(x->ctx, &mark);
        if (run_once(x, &status) != TRANCHE_OK) {
            rc = TRANCHE_ERROR;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            rc = emit_rest(x);
        } else {
            chain_ctx_take_back(x->ctx, &mark);
            describe_failure(x, status, msg, sizeof(msg));
            rc = chain_ctx_reject(x->ctx, p->offset, all + p->at, p->len, msg);
            left++;
        }
    }
    x->out_len = 0;
    free(all);
    if (rc == TRANCHE_OK && left == 0) {
        x->host->log(x->ctx, TRANCHE_LOG_WARN,
                     "command '%s' failed on no record alone: the partition's output is that of "
                     "one run per record",
                     x->command);
    }
    /* (the memfd's size: rewind_input and the next partition's end_partition set it again) */
    return rc;
}

static int
exec_end_partition(void *state, tranche_ctx *ctx)
{
    struct exec *x = state;
    struct chain_mark mark;
    int rc, status;

    if (flush_input(x) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    if (ftruncate(x->memfd, (off_t)x->in_size) != 0 || lseek(x->memfd, 0, SEEK_SET) != 0) {
        return x->host->error(x->ctx, "cannot rewind the command's input: %s", strerror(errno));
    }
    if (x->skipping) {
        chain_ctx_mark(ctx, &mark);
    }
    rc = run_once(x, &status);
    if (rc != TRANCHE_OK) {
        x->out_len = 0;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = emit_rest(x);
    } else if (x->skipping) {
        x->out_len = 0;
        chain_ctx_take_back(ctx, &mark);
        rc = run_each(x);
    } else {
        x->out_len = 0;
        rc = command_failed(x, status);
    }
    return rewind_input(x) == TRANCHE_OK ? rc : TRANCHE_ERROR;
}

const struct tranche_plugin exec_plugin = {
    TRANCHE_PLUGIN_ABI,
    .name = "exec",
    .version = TRANCHE_VERSION,
    .description = "runs a command over each partition (exec: in a job file)",
    .options = exec_options,
    .init = exec_init,
    .record = exec_record,
    .end_partition = exec_end_partition,
    .fini = exec_fini,
    .begin_partition = exec_begin_partition,
};
