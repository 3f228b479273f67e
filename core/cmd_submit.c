/*
 * core/cmd_submit.c: `tranche submit --slurm JOB --shards N`: plans the shards (`tranche plan
 * JOB --shards N --work-dir D`, run as a child of this same binary), then submits a Slurm job
 * array that runs one shard per task (`tranche run JOB --shard auto`) and a merge job that
 * depends on it (afterok, --kill-on-invalid-dep=yes: a failed shard cancels the merge instead of
 * leaving it pending for ever). Prints the two job ids, or with --dry-run the two sbatch command
 * lines, shell-quoted. Slurm's own tools (scontrol, sbatch) are run by name from PATH.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "paths.h"

const char cli_submit_help[] =
    "usage: tranche submit --slurm JOB.yaml --shards N [--work-dir DIR] [--max-running K]\n"
    "                      [--dry-run] [-- SBATCH_ARGS...]\n"
    "\n"
    "Runs the job as N shards on a Slurm cluster. First plans the shards (tranche plan JOB\n"
    "--shards N --work-dir DIR), then submits, with sbatch:\n"
    "  an array job of N tasks, one shard each:\n"
    "    sbatch --parsable --array=0-(N-1)[%K] [SBATCH_ARGS] --job-name=tranche-NAME\n"
    "           --output=DIR/slurm-%A_%a.out --wrap \"tranche run JOB --shard auto --work-dir "
    "DIR\"\n"
    "  and a merge job that runs once every task has succeeded:\n"
    "    sbatch --parsable --dependency=afterok:ARRAY_ID --kill-on-invalid-dep=yes [SBATCH_ARGS]\n"
    "           --job-name=tranche-NAME-merge --output=DIR/slurm-merge-%j.out\n"
    "           --wrap \"tranche merge --work-dir DIR\"\n"
    "A failed shard cancels the merge (it is not left pending). `tranche status --work-dir DIR`\n"
    "then names the shards to run again as an --array= list: resubmit only those with the same\n"
    "array command and that --array=LIST, then the merge command after it.\n"
    "Prints the two job ids, one per line: \"array job: ID\" and \"merge job: ID\".\n"
    "\n"
    "  --slurm              submit to Slurm (the one scheduler so far)\n"
    "  --shards N           how many shards (array tasks); at most the cluster's MaxArraySize\n"
    "                       (read with `scontrol show config` where scontrol is found)\n"
    "  --work-dir DIR       the plan, the parts and the Slurm logs (default: JOBDIR/NAME.shards,\n"
    "                       NAME being the job file's name without .yaml)\n"
    "  --max-running K      at most K shards running at once (--array=0-(N-1)%K)\n"
    "  --dry-run            write the plan and print the two sbatch commands (to paste into a\n"
    "                       shell) instead of running them\n"
    "  -- SBATCH_ARGS...    passed to both sbatch commands (--partition=..., --time=...,\n"
    "                       --cpus-per-task=...: a shard's workers follow SLURM_CPUS_PER_TASK)\n"
    "  -h, --help           this text\n"
    "\n"
    "Exit status: 0 submitted (or printed); 1 sbatch is missing or failed (its message is shown),\n"
    "or the plan failed; 2 usage, a job file or plan error, or more shards than the cluster's\n"
    "array limit.\n";

struct submit_cli {
    const char *job;
    long shards;      /* 0: not given */
    long max_running; /* 0: no limit */
    const char *work_dir;
    int slurm, dry_run, help;
    char **sbatch_args; /* after "--" */
    int n_sbatch_args;
};

static int
parse_long(const char *s, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1) {
        return -1;
    }
    *out = v;
    return 0;
}

static int
parse_submit_cli(int argc, char **argv, struct submit_cli *cli)
{
    static const struct option longopts[] = {
        {"slurm", no_argument, NULL, 'S'},
        {"shards", required_argument, NULL, 'n'},
        {"work-dir", required_argument, NULL, 'w'},
        {"max-running", required_argument, NULL, 'k'},
        {"dry-run", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, i, nopts = argc;

    memset(cli, 0, sizeof(*cli));
    /* everything after "--" is sbatch's, options or not */
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            nopts = i;
            cli->sbatch_args = argv + i + 1;
            cli->n_sbatch_args = argc - i - 1;
            break;
        }
    }
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(nopts, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cli->help = 1;
            return 0;
        case 'S':
            cli->slurm = 1;
            break;
        case 'd':
            cli->dry_run = 1;
            break;
        case 'w':
            cli->work_dir = optarg;
            break;
        case 'n':
            if (parse_long(optarg, &cli->shards) != 0 || cli->shards > 100000000) {
                return cli_usage_error("tranche submit: --shards needs a number >= 1, not '%s'",
                                       optarg);
            }
            break;
        case 'k':
            if (parse_long(optarg, &cli->max_running) != 0 || cli->max_running > 100000000) {
                return cli_usage_error(
                    "tranche submit: --max-running needs a number >= 1, not '%s'", optarg);
            }
            break;
        case ':':
            return cli_usage_error("tranche submit: option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error(
                "tranche submit: unknown option '%s' (see tranche submit --help; sbatch's own "
                "options go after --)",
                argv[optind - 1]);
        }
    }
    if (optind != nopts - 1) {
        return cli_usage_error("usage: tranche submit --slurm JOB.yaml --shards N [--work-dir "
                               "DIR] [--max-running K] [--dry-run] [-- SBATCH_ARGS...]%s",
                               "");
    }
    cli->job = argv[optind];
    if (!cli->slurm) {
        return cli_usage_error("tranche submit: say which scheduler: --slurm (the only one so "
                               "far)%s",
                               "");
    }
    if (cli->shards == 0) {
        return cli_usage_error("tranche submit: --shards N is required%s", "");
    }
    return 0;
}

/* The strings this command makes: freed together when it returns (owned_free). */
static char **owned;
static size_t n_owned, cap_owned;

static void
oom(void)
{
    fputs("tranche submit: out of memory\n", stderr);
    exit(1);
}

static char *
own(char *s)
{
    if (n_owned == cap_owned) {
        size_t cap = cap_owned ? cap_owned * 2 : 64;
        char **nv = realloc(owned, cap * sizeof(char *));

        if (nv == NULL) {
            oom();
        }
        owned = nv;
        cap_owned = cap;
    }
    owned[n_owned++] = s;
    return s;
}

static void
owned_free(void)
{
    while (n_owned > 0) {
        free(owned[--n_owned]);
    }
    free(owned);
    owned = NULL;
    cap_owned = 0;
}

/* printf into a malloc'd string (the caller frees it); exits when out of memory. */
static char *
vfmt(const char *fmt, va_list ap)
{
    char *s;

    if (vasprintf(&s, fmt, ap) < 0) {
        oom();
    }
    return s;
}

static char *
fmt_raw(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = vfmt(fmt, ap);
    va_end(ap);
    return s;
}

/* printf into a string owned by the command (freed when it returns). */
static char *
xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = vfmt(fmt, ap);
    va_end(ap);
    return own(s);
}

/* s in single quotes, each ' as '\'' (always quoted). */
static char *
sh_quote_always(const char *s)
{
    size_t n = 3, i;
    char *q, *p;

    for (i = 0; s[i]; i++) {
        n += s[i] == '\'' ? 4 : 1;
    }
    q = own(malloc(n));
    if (q == NULL) {
        oom();
    }
    p = q;
    *p++ = '\'';
    for (i = 0; s[i]; i++) {
        if (s[i] == '\'') {
            memcpy(p, "'\\''", 4);
            p += 4;
        } else {
            *p++ = s[i];
        }
    }
    *p++ = '\'';
    *p = '\0';
    return q;
}

/* s as a shell word: as it is when it needs no quoting, in double quotes when it holds single
 * quotes and nothing double quotes would expand, else in single quotes. */
static char *
sh_quote(const char *s)
{
    static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                "_-./:=,%@+";

    if (*s != '\0' && strspn(s, plain) == strlen(s)) {
        return xasprintf("%s", s);
    }
    if (strchr(s, '\'') != NULL && strpbrk(s, "\"$`\\!") == NULL) {
        return xasprintf("\"%s\"", s);
    }
    return sh_quote_always(s);
}

/* The executable's path on PATH (malloc'd), or NULL. */
static char *
find_on_path(const char *name)
{
    const char *path = getenv("PATH"), *p, *colon;
    char *full;

    if (path == NULL || *path == '\0') {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    for (p = path;; p = colon + 1) {
        size_t len;

        colon = strchr(p, ':');
        len = colon ? (size_t)(colon - p) : strlen(p);
        full = fmt_raw("%.*s%s%s", (int)len, p, len ? "/" : "", name);
        if (access(full, X_OK) == 0) {
            return full;
        }
        free(full);
        if (colon == NULL) {
            return NULL;
        }
    }
}

/*
 * Runs argv (argv[0] by PATH) and waits for it. Its standard output goes to *out (malloc'd,
 * NUL-terminated) when out is not NULL, else to our standard error; its standard error is
 * ours (/dev/null when quiet). Returns its exit status (0-255, 128+signal), or -1 when it could not
 * be started.
 */
static int
run_child(char *const argv[], char **out, int quiet)
{
    int fds[2] = {-1, -1}, status;
    pid_t pid;
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (out != NULL) {
        *out = NULL;
        if (pipe(fds) != 0) {
            return -1;
        }
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        if (out != NULL) {
            close(fds[0]);
            close(fds[1]);
        }
        return -1;
    }
    if (pid == 0) {
        if (out != NULL) {
            close(fds[0]);
            dup2(fds[1], STDOUT_FILENO);
            close(fds[1]);
        } else {
            dup2(STDERR_FILENO, STDOUT_FILENO);
        }
        if (quiet) {
            int null = open("/dev/null", O_WRONLY);

            if (null >= 0) {
                dup2(null, STDERR_FILENO);
                close(null);
            }
        }
        execvp(argv[0], argv);
        fprintf(stderr, "tranche submit: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (out != NULL) {
        close(fds[1]);
        for (;;) {
            ssize_t n;

            if (cap - len < 4096) {
                char *nb = realloc(buf, cap + 65536);

                if (nb == NULL) {
                    break;
                }
                buf = nb;
                cap += 65536;
            }
            n = read(fds[0], buf + len, cap - len - 1);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            len += (size_t)n;
        }
        close(fds[0]);
        if (buf != NULL) {
            buf[len] = '\0';
        }
        *out = buf;
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

/*
 * The cluster's MaxArraySize from `scontrol show config`: > 0 read, 0 job arrays are disabled,
 * -1 unknown (no scontrol, or it failed: no check; said on stderr when scontrol is there).
 */
static long
max_array_size(void)
{
    char *scontrol = find_on_path("scontrol"), *out = NULL, *line;
    char *argv[] = {"scontrol", "show", "config", NULL};
    long v = -1;
    int st;

    if (scontrol == NULL) {
        return -1;
    }
    free(scontrol);
    st = run_child(argv, &out, 1);
    if (st == 0 && out != NULL) {
        for (line = out; line != NULL && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            if (strncmp(line, "MaxArraySize", 12) == 0) {
                const char *eq = strchr(line, '=');

                if (eq != NULL) {
                    v = strtol(eq + 1, NULL, 10);
                }
                break;
            }
        }
    }
    if (v < 0) {
        fprintf(stderr,
                "tranche submit: warning: could not read the cluster's MaxArraySize (scontrol "
                "show config %s); the number of shards is not checked\n",
                st == 0 ? "has none" : "failed");
    }
    free(out);
    return v;
}

/* An absolute version of path (cwd prepended when relative; not resolved further). */
static char *
absolute(const char *path)
{
    char cwd[PATH_MAX];

    if (path[0] == '/') {
        return xasprintf("%s", path);
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return NULL;
    }
    while (path[0] == '.' && path[1] == '/') {
        path += 2;
    }
    return xasprintf("%s/%s", cwd, path);
}

/* The job's name: its file name without the directory and a .yaml or .yml extension. */
static char *
job_name(const char *job_abs)
{
    const char *base = strrchr(job_abs, '/');
    size_t len;

    base = base ? base + 1 : job_abs;
    len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".yaml") == 0) {
        len -= 5;
    } else if (len > 4 && strcmp(base + len - 4, ".yml") == 0) {
        len -= 4;
    }
    return xasprintf("%.*s", (int)len, base);
}

/* An argument vector (strings malloc'd or static, never freed: the process ends soon). */
struct argvec {
    char **v;
    int n, cap;
    int raw; /* the index of a word printed unquoted by av_line ($ARRAY_ID in it), or 0 */
};

static void
av_push(struct argvec *a, char *s)
{
    if (a->n + 2 > a->cap) {
        int cap = a->cap ? a->cap * 2 : 32;
        char **nv = realloc(a->v, (size_t)cap * sizeof(char *));

        if (nv == NULL) {
            oom();
        }
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

/* The command line argv as one line of shell words. */
static char *
av_line(const struct argvec *a)
{
    char *line = xasprintf("%s", ""), *w;
    int i;

    for (i = 0; i < a->n; i++) {
        w = a->raw != 0 && i == a->raw ? a->v[i] : sh_quote(a->v[i]);
        line = xasprintf("%s%s%s", line, i ? " " : "", w);
    }
    return line;
}

/* The job id sbatch --parsable printed ("ID" or "ID;CLUSTER"): malloc'd, NULL when none. */
static char *
parsable_id(const char *out)
{
    size_t n;

    if (out == NULL) {
        return NULL;
    }
    n = strspn(out, "0123456789");
    if (n == 0 || (out[n] != '\0' && out[n] != '\n' && out[n] != ';')) {
        return NULL;
    }
    return xasprintf("%.*s", (int)n, out);
}

/* Runs one sbatch command; its job id (malloc'd), or NULL having said why. */
static char *
sbatch(const struct argvec *a, const char *what)
{
    char *out = NULL, *id;
    int st = run_child(a->v, &out, 0);

    if (st != 0) {
        fprintf(stderr, "tranche submit: sbatch failed for the %s (exit status %d)\n", what, st);
        free(out);
        return NULL;
    }
    id = parsable_id(out);
    if (id == NULL) {
        fprintf(stderr, "tranche submit: sbatch printed no job id for the %s: '%s'\n", what,
                out ? out : "");
    }
    free(out);
    return id;
}

/* The two sbatch commands. */
static struct argvec arr, mrg;

static int submit(int argc, char **argv);

int
cmd_submit(int argc, char **argv)
{
    int rc = submit(argc, argv);

    free(arr.v);
    free(mrg.v);
    memset(&arr, 0, sizeof(arr));
    memset(&mrg, 0, sizeof(mrg));
    owned_free();
    return rc;
}

static int
submit(int argc, char **argv)
{
    struct submit_cli cli;
    struct error err;
    char bin[PATH_MAX], shards_s[32], *job_abs, *dir, *name, *sbatch_path, *plan_dir;
    char *q_bin, *q_job, *q_dir, *array_id, *merge_id;
    long max_size = -1;
    ssize_t n;
    int rc, i;

    rc = parse_submit_cli(argc, argv, &cli);
    if (rc != 0) {
        return rc;
    }
    if (cli.help) {
        fputs(cli_submit_help, stdout);
        return 0;
    }
    n = readlink("/proc/self/exe", bin, sizeof(bin) - 1);
    if (n <= 0) {
        fprintf(stderr, "tranche submit: cannot find this program's path: %s\n", strerror(errno));
        return ERR_FAILED;
    }
    bin[n] = '\0';
    if (access(cli.job, R_OK) != 0) {
        fprintf(stderr, "tranche submit: cannot read the job file %s: %s\n", cli.job,
                strerror(errno));
        return ERR_INVALID;
    }
    job_abs = absolute(cli.job);
    if (job_abs == NULL) {
        fprintf(stderr, "tranche submit: cannot find the working directory: %s\n", strerror(errno));
        return ERR_FAILED;
    }
    name = job_name(job_abs);
    if (cli.work_dir != NULL) {
        dir = absolute(cli.work_dir);
    } else {
        plan_dir = path_dirname(job_abs);
        dir = plan_dir ? xasprintf("%s/%s.shards", plan_dir, name) : NULL;
        free(plan_dir);
    }
    if (dir == NULL) {
        fprintf(stderr, "tranche submit: cannot find the working directory: %s\n", strerror(errno));
        return ERR_FAILED;
    }

    /* what can be refused before anything is written: sbatch missing, too many shards */
    sbatch_path = find_on_path("sbatch");
    if (sbatch_path == NULL && !cli.dry_run) {
        fprintf(stderr, "tranche submit: sbatch not found on PATH (run this where Slurm's client "
                        "commands are, or use --dry-run to see the commands)\n");
        return ERR_FAILED;
    }
    free(sbatch_path);
    max_size = max_array_size();
    if (max_size == 0) {
        fprintf(stderr, "tranche submit: this cluster has job arrays disabled (MaxArraySize = 0 "
                        "in `scontrol show config`): submit cannot run shards on it\n");
        return ERR_INVALID;
    }
    if (max_size > 0 && cli.shards > max_size) {
        fprintf(stderr,
                "tranche submit: %ld shards need array indices 0-%ld, above this cluster's "
                "limit (MaxArraySize = %ld: indices up to %ld); use --shards %ld or fewer\n",
                cli.shards, cli.shards - 1, max_size, max_size - 1, max_size);
        return ERR_INVALID;
    }

    /* the plan, by this same binary; its table goes to stderr (stdout is the ids) */
    if (path_mkdirs(dir, &err) != 0) {
        fprintf(stderr, "tranche submit: %s\n", err.msg);
        return ERR_INVALID;
    }
    snprintf(shards_s, sizeof(shards_s), "%ld", cli.shards);
    {
        char *plan_argv[] = {bin, "plan", job_abs, "--shards", shards_s, "--work-dir", dir, NULL};

        rc = run_child(plan_argv, NULL, 0);
    }
    if (rc != 0) {
        fprintf(stderr,
                "tranche submit: tranche plan --shards %s failed (exit status %d); "
                "nothing submitted\n",
                shards_s, rc);
        return rc == 2 ? ERR_INVALID : ERR_FAILED;
    }

    q_bin = sh_quote_always(bin);
    q_job = sh_quote_always(job_abs);
    q_dir = sh_quote_always(dir);

    av_push(&arr, "sbatch");
    av_push(&arr, "--parsable");
    if (cli.max_running > 0) {
        av_push(&arr, xasprintf("--array=0-%ld%%%ld", cli.shards - 1, cli.max_running));
    } else {
        av_push(&arr, xasprintf("--array=0-%ld", cli.shards - 1));
    }
    for (i = 0; i < cli.n_sbatch_args; i++) {
        av_push(&arr, cli.sbatch_args[i]);
    }
    av_push(&arr, xasprintf("--job-name=tranche-%s", name));
    av_push(&arr, xasprintf("--output=%s/slurm-%%A_%%a.out", dir));
    av_push(&arr, "--wrap");
    av_push(&arr, xasprintf("%s run %s --shard auto --work-dir %s", q_bin, q_job, q_dir));

    if (cli.dry_run) {
        char *line = av_line(&arr);

        /* the merge's dependency is the array's id: a shell variable in the printed lines */
        printf("ARRAY_ID=$(%s)\n", line);
        array_id = xasprintf("%s", "$ARRAY_ID");
    } else {
        array_id = sbatch(&arr, "array job");
        if (array_id == NULL) {
            fprintf(stderr, "tranche submit: nothing submitted (the plan is in %s)\n", dir);
            return ERR_FAILED;
        }
    }

    av_push(&mrg, "sbatch");
    av_push(&mrg, "--parsable");
    mrg.raw = cli.dry_run ? mrg.n : 0;
    av_push(&mrg, xasprintf("--dependency=afterok:%s", array_id));
    av_push(&mrg, "--kill-on-invalid-dep=yes");
    for (i = 0; i < cli.n_sbatch_args; i++) {
        av_push(&mrg, cli.sbatch_args[i]);
    }
    av_push(&mrg, xasprintf("--job-name=tranche-%s-merge", name));
    av_push(&mrg, xasprintf("--output=%s/slurm-merge-%%j.out", dir));
    av_push(&mrg, "--wrap");
    av_push(&mrg, xasprintf("%s merge --work-dir %s", q_bin, q_dir));

    if (cli.dry_run) {
        char *line = av_line(&mrg);

        printf("%s\n", line);
        return 0;
    }
    merge_id = sbatch(&mrg, "merge job");
    if (merge_id == NULL) {
        char *line;

        printf("array job: %s\n", array_id);
        fflush(stdout);
        fprintf(stderr,
                "tranche submit: the array job %s was submitted, the merge was not; once the "
                "array has succeeded, run `tranche merge --work-dir %s`, or submit it with:\n",
                array_id, dir);
        line = av_line(&mrg);
        fprintf(stderr, "%s\n", line);
        return ERR_FAILED;
    }
    printf("array job: %s\nmerge job: %s\n", array_id, merge_id);
    fprintf(stderr,
            "tranche submit: %ld shards of %s; work directory %s (Slurm logs slurm-*.out). "
            "If a shard fails the merge is cancelled: `tranche status --work-dir %s` gives the "
            "--array= list to resubmit.\n",
            cli.shards, job_abs, dir, dir);
    return 0;
}
