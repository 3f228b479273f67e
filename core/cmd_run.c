/*
 * core/cmd_run.c: `tranche run`, `tranche plan` and `tranche validate`: the job file and the
 * command-line options that override it, then the data flow: job -> plugins -> inputs -> plan ->
 * run (run.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aggregate.h"
#include "chain.h"
#include "cli.h"
#include "config.h"
#include "error.h"
#include "input.h"
#include "io.h"
#include "loader.h"
#include "output.h"
#include "paths.h"
#include "plan.h"
#include "repro.h"
#include "resume.h"
#include "run.h"
#include "shards.h"
#include "signals.h"

/* More workers than this is a mistake (each is a process and two descriptors in the parent). */
#define MAX_WORKERS 1024
#define FDS_PER_WORKER 3
#define FDS_OF_RUNNER 32 /* standard ones, logs, output, parts, a stream, plugins' */

const char cli_run_help[] =
    "usage: tranche run JOB.yaml [OPTIONS]\n"
    "       tranche plan JOB.yaml [OPTIONS]\n"
    "       tranche validate JOB.yaml [OPTIONS]\n"
    "       tranche run|plan|validate --step PLUGIN [--set OPTION=VALUE...] [--step PLUGIN ...]\n"
    "                                 --input PATH [--output PATH] [OPTIONS]\n"
    "\n"
    "validate makes every check run makes before it runs (job, plugins and their options, inputs\n"
    "opened and planned, output, log directory), and runs nothing.\n"
    "\n"
    "Options override the job file:\n"
    "  -w, --workers N|auto        worker processes (auto: online CPUs)\n"
    "  -s, --partition-size SIZE   target partition size: bytes, or with KiB, MiB, GiB\n"
    "                              (e.g. 32MiB)\n"
    "  -i, --input PATH            the input file (or glob), instead of input.path; --input -\n"
    "                              reads standard input (gzip too, by its magic bytes)\n"
    "  -o, --output PATH           the output file, '-' for standard output\n"
    "  -l, --log-dir DIR           where tranche.log and worker-N.log go\n"
    "      --set KEY=VALUE         any key of the job, as in the file: --set output.level=1,\n"
    "                              --set input.compression=none, --set partition_size=1MiB\n"
    "      --set STEP.OPTION=VALUE an option of a step, STEP being its number (from 1) or its\n"
    "                              plugin's name: --set 2.fields=3, --set grep.pattern=x\n"
    "                              VALUE is checked as the file's value would be; a VALUE that\n"
    "                              begins with [ { \" or ' is YAML (--set 'cut.fields=[1,3]'),\n"
    "                              any other is taken as it is. The last --set of a key wins.\n"
    "      --fsync                 (run) sync the output and its directory at the commit, so\n"
    "                              that it survives a power loss once tranche exits 0\n"
    "      --retries N             (run) re-run a failed partition up to N times, each time in\n"
    "                              a fresh worker (the job's `retries`)\n"
    "      --resume                (run) go on from where a failed or interrupted run of the\n"
    "                              same job stopped: the partitions it wrote (kept in\n"
    "                              OUTPUT.tranche-work) are not run again; a changed job,\n"
    "                              plugin or input is refused\n"
    "A job without a job file:\n"
    "      --step PLUGIN           adds a step (in order); a --set OPTION=VALUE after it sets\n"
    "                              that step's option. --input is needed; the output is\n"
    "                              standard output unless --output says otherwise:\n"
    "                              tranche run --step cut --set fields=2 --set delimiter=,\n"
    "                                          --step upper --input data.csv\n"
    "Debugging (run only):\n"
    "      --in-process            run every partition in this process, without fork (for gdb,\n"
    "                              valgrind); plugins' stderr stays on the terminal\n"
    "  -p, --partition K           run only partition K (see `tranche plan`), in-process, to\n"
    "                              standard output unless --output is given\n"
    "      --replay LIST           run partitions LIST (e.g. 4,6,9 or 0-3,7) in that order, in\n"
    "                              this process, as one worker would: the `reproduce:` line of a\n"
    "                              failed worker; to standard output unless --output is given\n"
    "\n"
    "Shards (a job cut into N parts that run apart, as the tasks of a Slurm job array; see\n"
    "tranche help merge):\n"
    "      --shards N              (plan) write the shard plan DIR/shards.plan (N runs of\n"
    "                              consecutive partitions of about equal bytes; a gzip input\n"
    "                              without an index is one unit) and print its shards\n"
    "      --shard I/N|auto        (run) run shard I (from 0) of the plan in --work-dir into\n"
    "                              DIR/part-I, with its checksum in DIR/part-I.sum; auto: I from\n"
    "                              SLURM_ARRAY_TASK_ID, AWS_BATCH_JOB_ARRAY_INDEX,\n"
    "                              BATCH_TASK_INDEX or JOB_COMPLETION_INDEX; workers from\n"
    "                              SLURM_CPUS_PER_TASK unless set. A changed job or input is\n"
    "                              refused (exit 2)\n"
    "      --work-dir DIR          the shards' work directory (plan, parts)\n"
    "\n"
    "What a run did:\n"
    "  -q, --quiet                 no progress line and no summary line on standard error\n"
    "      --summary-json FILE     (run) also write the log directory's summary.json to FILE\n"
    "                              (its directory must exist)\n"
    "\n"
    "gzip inputs (found by their magic bytes): BGZF is split at its blocks; other gzip is decoded\n"
    "by this process on a first run, which leaves an index in your cache (input.index: cache,\n"
    "beside or off; when the file is large enough to gain from one) so that later runs decode it\n"
    "in parallel (see tranche help index). Standard input that is not a file is read once, as it\n"
    "comes, by this process, and cut into partitions as it is read (never indexed).\n"
    "\n"
    "Without log_dir or --log-dir, each run's logs go to a directory of their own in\n"
    "$TMPDIR/tranche-logs-UID/JOBNAME-TAG (TMPDIR: /tmp; TAG: from the job file's path), with a\n"
    "`latest` link to the newest; the last 10 runs are kept.\n";

/* The command line of run, plan and validate. */
struct cli {
    const char *job_path; /* NULL: the job is made of --step and --set */
    struct config_cli job_args;
    const char *workers;
    const char *partition_size;
    const char *input;
    const char *output;
    const char *log_dir;
    const char *retries; /* --retries N */
    int resume;          /* --resume */
    int in_process;
    long only_partition;
    size_t *replay; /* --replay LIST (malloc'd) */
    size_t n_replay;
    int quiet;
    int fsync;
    const char *summary_json; /* --summary-json FILE */
    const char *shards;       /* plan --shards N */
    const char *shard;        /* run --shard I/N|auto */
    const char *work_dir;     /* --work-dir DIR */
    int help;
};

static int
parse_partition(const char *text, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || *out < 0) {
        return cli_usage_error("--partition needs a partition index (0, 1, ...), not '%s'", text);
    }
    return 0;
}

/* --replay LIST (given once). */
static int
parse_replay(const char *text, struct cli *cli)
{
    struct error err;

    if (cli->replay != NULL) {
        return cli_usage_error("%s", "--replay is given twice: give one LIST");
    }
    if (repro_parse_list(text, &cli->replay, &cli->n_replay, &err) != 0) {
        return cli_usage_error("%s", err.msg);
    }
    return 0;
}

/* One option; returns 0 or ERR_INVALID (said on stderr). */
static int
take_option(struct cli *cli, int c, char **argv)
{
    switch (c) {
    case 'S':
    case 'T':
        cli_take_job_arg(&cli->job_args, c, argv);
        return 0;
    case 'w':
        cli->workers = optarg;
        return 0;
    case 's':
        cli->partition_size = optarg;
        return 0;
    case 'i':
        cli->input = optarg;
        return 0;
    case 'o':
        cli->output = optarg;
        return 0;
    case 'l':
        cli->log_dir = optarg;
        return 0;
    case 'P':
        cli->in_process = 1;
        return 0;
    case 'p':
        return parse_partition(optarg, &cli->only_partition);
    case 'R':
        return parse_replay(optarg, cli);
    case 'q':
        cli->quiet = 1;
        return 0;
    case 'F':
        cli->fsync = 1;
        return 0;
    case 'r':
        cli->retries = optarg;
        return 0;
    case 'U':
        cli->resume = 1;
        return 0;
    case 'J':
        cli->summary_json = optarg;
        return 0;
    case 'N':
        cli->shards = optarg;
        return 0;
    case 'I':
        cli->shard = optarg;
        return 0;
    case 'D':
        cli->work_dir = optarg;
        return 0;
    case 'h':
        cli->help = 1;
        return 0;
    case ':':
        return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
    default:
        return cli_usage_error("unknown option '%s'", argv[optind - 1]);
    }
}

/* The job is a job file, or --step ... (with --input) without one. */
static int
check_job_source(struct cli *cli, int argc, char **argv)
{
    if (cli_job_source(argc, argv, &cli->job_args, &cli->job_path) != 0) {
        return ERR_INVALID;
    }
    if (cli->job_path == NULL && cli->input == NULL) {
        return cli_usage_error("%s", "a job made with --step needs --input PATH (- for "
                                     "standard input)");
    }
    cli->job_args.input = cli->input;
    cli->job_args.output = cli->output;
    return 0;
}

static void
cli_release(struct cli *cli)
{
    free((void *)cli->job_args.sets);
    free((void *)cli->job_args.steps);
    free(cli->replay);
}

static int
parse_cli(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        {"workers", required_argument, NULL, 'w'},
        {"partition-size", required_argument, NULL, 's'},
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"log-dir", required_argument, NULL, 'l'},
        {"in-process", no_argument, NULL, 'P'},
        {"partition", required_argument, NULL, 'p'},
        {"replay", required_argument, NULL, 'R'},
        {"quiet", no_argument, NULL, 'q'},
        {"fsync", no_argument, NULL, 'F'},
        {"retries", required_argument, NULL, 'r'},
        {"resume", no_argument, NULL, 'U'},
        {"summary-json", required_argument, NULL, 'J'},
        {"shards", required_argument, NULL, 'N'},
        {"shard", required_argument, NULL, 'I'},
        {"work-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {"set", required_argument, NULL, 'S'},
        {"step", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(cli, 0, sizeof(*cli));
    cli->only_partition = -1;
    cli->job_args.sets = calloc((size_t)argc, sizeof(struct config_arg));
    cli->job_args.steps = calloc((size_t)argc, sizeof(struct config_arg));
    if (cli->job_args.sets == NULL || cli->job_args.steps == NULL) {
        fprintf(stderr, "tranche: out of memory\n");
        return ERR_INVALID;
    }
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":w:s:i:o:l:p:qh", longopts, NULL)) != -1) {
        if (take_option(cli, c, argv) != 0) {
            return ERR_INVALID;
        }
        if (cli->help) {
            return 0;
        }
    }
    return check_job_source(cli, argc, argv);
}

/* Replaces *field by a copy of value. */
static int
override(char **field, const char *value, struct error *err)
{
    char *copy = strdup(value);

    if (copy == NULL) {
        return error_set(err, "out of memory");
    }
    free(*field);
    *field = copy;
    return 0;
}

/* --retries N: 0 to CONFIG_MAX_RETRIES. */
static int
parse_retries(const char *text, int *out)
{
    int n = 0;

    if (strcmp(text, "0") != 0 &&
        (strcmp(text, "auto") == 0 || config_parse_workers(text, &n) != 0)) {
        return -1;
    }
    if (n > CONFIG_MAX_RETRIES) {
        return -1;
    }
    *out = n;
    return 0;
}

/* Loads the job and applies the command-line overrides. */
static int
load_job(const struct cli *cli, struct job *job, struct error *err)
{
    struct rlimit rl;

    if (config_load_cli(cli->job_path, &cli->job_args, job, err) != 0) {
        return -1;
    }
    if (cli->workers != NULL && config_parse_workers(cli->workers, &job->workers) != 0) {
        return error_set(err, "--workers: expected a positive integer or 'auto', not '%s'",
                         cli->workers);
    }
    if (cli->retries != NULL && parse_retries(cli->retries, &job->retries) != 0) {
        return error_set(err, "--retries: expected an integer from 0 to %d, not '%s'",
                         CONFIG_MAX_RETRIES, cli->retries);
    }
    if (cli->partition_size != NULL &&
        config_parse_size(cli->partition_size, &job->partition_size) != 0) {
        return error_set(err,
                         "--partition-size: expected a size such as 65536, 256KiB or 32MiB, "
                         "not '%s'",
                         cli->partition_size);
    }
    /* A debugging run of one partition writes to standard output unless told otherwise: it
     * must not replace the job's output with one partition of it. */
    if ((cli->job_path != NULL && cli->input != NULL &&
         config_set_input(job, cli->input, err) != 0) ||
        (cli->output == NULL && (cli->only_partition >= 0 || cli->replay != NULL) &&
         override(&job->output, "-", err)) ||
        (cli->output != NULL && override(&job->output, cli->output, err) != 0) ||
        (cli->log_dir != NULL && override(&job->log_dir, cli->log_dir, err) != 0)) {
        return -1;
    }
    /* A shard on a cluster runs with the CPUs its scheduler gave it, not the machine's. */
    if (job->workers == 0 && cli->shard != NULL && getenv("SLURM_CPUS_PER_TASK") != NULL &&
        config_parse_workers(getenv("SLURM_CPUS_PER_TASK"), &job->workers) != 0) {
        return error_set(err, "SLURM_CPUS_PER_TASK: expected a positive integer, not '%s'",
                         getenv("SLURM_CPUS_PER_TASK"));
    }
    if (job->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        job->workers = n > 0 ? (int)n : 1;
    }
    if (job->workers > MAX_WORKERS) {
        return error_set(err, "workers: %d is more than tranche runs (%d)", job->workers,
                         MAX_WORKERS);
    }
    /* The runner holds three descriptors per worker (its report pipe, its command pipe, its
     * pidfd) and a few of its own; main() raised the soft limit to the hard one already. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)job->workers * FDS_PER_WORKER + FDS_OF_RUNNER > rl.rlim_cur) {
        return error_set(err,
                         "workers: %d workers need about %d open files and the limit (ulimit -n) "
                         "is %llu: use at most %llu workers, or raise the limit",
                         job->workers, job->workers * FDS_PER_WORKER + FDS_OF_RUNNER,
                         (unsigned long long)rl.rlim_cur,
                         rl.rlim_cur > FDS_OF_RUNNER + FDS_PER_WORKER
                             ? (unsigned long long)((rl.rlim_cur - FDS_OF_RUNNER) / FDS_PER_WORKER)
                             : 1ull);
    }
    return 0;
}

/* What the option check's child reports. */
struct check_report {
    int32_t failed;      /* 0: every init and fini succeeded */
    int32_t failed_step; /* the step whose init (or fini) failed, -1 for none */
    char msg[ERROR_MSG_MAX];
};

_Static_assert(sizeof(struct check_report) < PIPE_BUF, "a report must be written atomically");

/* The child: init and fini of every step, and the result on fd. Never returns. */
static void __attribute__((noreturn))
check_in_child(const struct job *job, const struct step *steps, struct chain_progress *where,
               int fd, pid_t parent)
{
    struct check_report rep;
    struct error err;
    int step = -1;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(1);
    }
    setpgid(0, 0); /* a plugin's kill(0, sig) reaches this child, not the runner */
    dup2(STDERR_FILENO, STDOUT_FILENO); /* what a plugin prints is not the job's output */
    memset(&rep, 0, sizeof(rep));
    if (chain_check(steps, job->n_steps, &job->framing, where, &step, &err) != 0) {
        rep.failed = 1;
        snprintf(rep.msg, sizeof(rep.msg), "%s", err.msg);
    }
    rep.failed_step = step;
    fflush(NULL);
    _exit(io_write_all(fd, &rep, sizeof(rep)) == 0 ? 0 : 1);
}

/* Prefixes err with the position of step k in the job file and its label. */
static int
at_step(const struct job *job, const struct step *steps, int k, struct error *err)
{
    const struct config_step *cs = &job->steps[k];
    char where[ERROR_MSG_MAX], from[ERROR_MSG_MAX] = "", arg[ERROR_MSG_MAX];
    size_t i, n = 0;

    /* Options given on the command line are named: the value at fault may be one of them. */
    for (i = 0; i < cs->n_options && n < sizeof(from); i++) {
        if (cs->options[i].value_pos.line < 0) {
            n += (size_t)snprintf(from + n, sizeof(from) - n, "%s%s", n == 0 ? " (with " : ", ",
                                  config_where(job, cs->options[i].value_pos, arg, sizeof(arg)));
        }
    }
    if (n > 0 && n < sizeof(from) - 1) {
        strcat(from, ")");
    }
    return error_prefix(err, "%s: %s%s", config_where(job, cs->pos, where, sizeof(where)),
                        steps[k].label, from);
}

/* Waits for the check's child and reads what it reported. */
static int
check_result(const struct job *job, const struct step *steps, const struct chain_progress *where,
             pid_t pid, int fd, struct error *err)
{
    struct check_report rep;
    ssize_t n = io_read_full(fd, &rep, sizeof(rep));
    char how[256];
    int status = 0;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (n == (ssize_t)sizeof(rep) && !rep.failed) {
        return 0;
    }
    if (n == (ssize_t)sizeof(rep)) {
        error_set(err, "%s", rep.msg);
        return rep.failed_step >= 0 ? at_step(job, steps, rep.failed_step, err) : -1;
    }
    signals_describe_status(status, how, sizeof(how));
    if (where->step >= 0) {
        error_set(err, "checking its options (init, then fini), the plugin %s", how);
        return at_step(job, steps, where->step, err);
    }
    return error_set(err, "checking the steps' options, the checking process %s", how);
}

/*
 * Calls every step's init and fini once, so option values a plugin rejects (a bad regex, say)
 * are reported as configuration errors before any worker starts. It happens in a child process:
 * a plugin that crashes there, exits, or starts a thread cannot take the runner with it.
 */
static int
check_init(const struct job *job, const struct step *steps, struct error *err)
{
    struct chain_progress *where;
    int fds[2], rc;
    pid_t pid, parent;

    where = mmap(NULL, sizeof(*where), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (where == MAP_FAILED) {
        return error_errno(err, "cannot map memory");
    }
    if (pipe2(fds, O_CLOEXEC) != 0) {
        munmap(where, sizeof(*where));
        return error_errno(err, "cannot create a pipe");
    }
    fflush(NULL);
    parent = getpid();
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        check_in_child(job, steps, where, fds[1], parent);
    }
    if (pid > 0) {
        setpgid(pid, pid);
    }
    close(fds[1]);
    rc = pid < 0 ? error_errno(err, "cannot fork")
                 : check_result(job, steps, where, pid, fds[0], err);
    close(fds[0]);
    if (pid > 0) {
        kill(-pid, SIGKILL); /* what a plugin started in the check goes with it */
    }
    munmap(where, sizeof(*where));
    return rc;
}

/* The output's gzip level: gzip when asked for, or with compression auto for a .gz name. */
static int
output_gzip_level(const struct job *job)
{
    size_t len = strlen(job->output);
    int gz = job->output_compression == CONFIG_COMPRESSION_GZIP ||
             (job->output_compression == CONFIG_COMPRESSION_AUTO && len > 3 &&
              strcmp(job->output + len - 3, ".gz") == 0);

    if (!gz) {
        return 0;
    }
    return job->output_level > 0 ? job->output_level : 6;
}

/* What a command of this file works on. */
struct session {
    struct cli cli;
    struct job job;
    struct step *steps;
    struct inputs inputs;
    struct plan plan;
    struct error err;
    /* run --shard: the shard plan, the shard, its inputs (plan then holds its partitions) */
    struct shard_plan shards;
    size_t shard;
    struct planner_window window;
    int sharded;
};

/* Prints a file name as `ls -b` would: a backslash, a newline or any other control character
 * escaped, so that one partition is always one line. */
static void
print_name(const char *name)
{
    const unsigned char *p = (const unsigned char *)name;

    for (; *p != '\0'; p++) {
        if (*p == '\\') {
            fputs("\\\\", stdout);
        } else if (*p == '\n') {
            fputs("\\n", stdout);
        } else if (*p == '\t') {
            fputs("\\t", stdout);
        } else if (*p < 0x20 || *p == 0x7f) {
            printf("\\%03o", *p);
        } else {
            putchar(*p);
        }
    }
}

/* Says on stderr why the plan does not list a stream's partitions. */
static void
explain_streams(const struct job *job, const struct inputs *in)
{
    size_t i;

    for (i = 0; i < in->n; i++) {
        if (in->v[i].kind == INPUT_STREAM && in->v[i].is_stdin) {
            fprintf(stderr,
                    "tranche: standard input is planned as it is read: its partitions are cut as "
                    "it comes, and are not listed\n");
        } else if (in->v[i].kind == INPUT_STREAM && !framing_syncs(&job->framing)) {
            fprintf(stderr,
                    "tranche: %s is gzip: with format %s%s, its partitions are cut in order as it "
                    "is decoded (a block or an index point cannot tell where a record starts), "
                    "and are not listed\n",
                    in->v[i].path, framing_kind_name(job->framing.kind),
                    job->framing.kind == TRANCHE_FORMAT_LINES ? " and a delimiter of several bytes"
                                                              : "");
        } else if (in->v[i].kind == INPUT_STREAM) {
            fprintf(stderr,
                    "tranche: %s is gzip without an index: its partitions are cut as it is "
                    "decoded, and are not listed (tranche index %s plans them ahead, and lets "
                    "the workers decode it in parallel)\n",
                    in->v[i].path, in->v[i].path);
        }
    }
}

/* Refuses --partition K past the plan's end (a stream's partitions are not known yet: the
 * in-process run says so when it gets there). */
static int
check_partition_exists(const struct session *s)
{
    long k = s->cli.only_partition;

    if (s->inputs.n_streams > 0 || k < 0 || (size_t)k < s->plan.n_parts) {
        return 0;
    }
    fprintf(stderr, "tranche: --partition %ld: the plan has %zu partition(s)%s\n", k,
            s->plan.n_parts, s->plan.n_parts > 0 ? ", numbered from 0 (see tranche plan)" : "");
    return ERR_INVALID;
}

/* Which command a session is for. */
enum session_for { FOR_VALIDATE, FOR_PLAN, FOR_RUN };

/* Says s->err on stderr, with command-line positions named as the arguments they are. */
static int
session_fail(struct session *s, int rc)
{
    const char *file = s->job.file;

    config_explain(&s->job, &s->err);
    /* Named by the job it is about, unless the message names its place already. */
    if (file != NULL && strncmp(s->err.msg, file, strlen(file)) != 0 &&
        strncmp(s->err.msg, "--", 2) != 0) {
        fprintf(stderr, "tranche: %s: %s\n", file, s->err.msg);
    } else {
        fprintf(stderr, "tranche: %s\n", s->err.msg);
    }
    return rc;
}

/* Parses the command line, loads the job and its plugins, checks the steps' options, and opens
 * the inputs. Returns 0, or a result code having said why on stderr. *help: --help was given. */
static int
session_open(struct session *s, int argc, char **argv, int *help)
{
    int rc;

    memset(s, 0, sizeof(*s));
    rc = parse_cli(argc, argv, &s->cli);
    *help = s->cli.help;
    if (rc != 0 || *help) {
        return rc;
    }
    if (load_job(&s->cli, &s->job, &s->err) != 0 || steps_load(&s->job, &s->steps, &s->err) != 0 ||
        run_check_stack(s->job.n_steps, &s->err) != 0) {
        return session_fail(s, ERR_INVALID);
    }
    /* A job with a header row reads it first: the option check's init() may look columns up in
     * it (host->header). */
    if (!s->job.framing.header && check_init(&s->job, s->steps, &s->err) != 0) {
        return session_fail(s, ERR_INVALID);
    }
    rc = inputs_open(&s->job, &s->inputs, &s->err);
    if (rc == 0) {
        rc = inputs_read_header(&s->job, &s->inputs, &s->err);
    }
    if (rc != 0) {
        return session_fail(s, rc == ERR_FAILED ? ERR_FAILED : ERR_INVALID);
    }
    if (s->job.framing.header && check_init(&s->job, s->steps, &s->err) != 0) {
        return session_fail(s, ERR_INVALID);
    }
    return 0;
}

/* The checks of the output, standard output and the log directory that run makes before it
 * runs. */
static int
check_destinations(struct session *s, enum session_for what)
{
    int rc = output_check(s->job.output, &s->err);
    char *dir;

    if (rc != 0) {
        return session_fail(s, rc);
    }
    if (what != FOR_PLAN && strcmp(s->job.output, "-") == 0 && cli_stdout_closed) {
        error_set(&s->err, "the output is standard output, which is closed");
        return session_fail(s, ERR_INVALID);
    }
    if (what == FOR_PLAN && cli_stdout_closed) {
        error_set(&s->err, "standard output is closed: nowhere to print the plan");
        return session_fail(s, ERR_INVALID);
    }
    /* Without a log_dir, the job's default one (run makes a directory for the run in it). */
    dir = s->job.log_dir != NULL ? strdup(s->job.log_dir) : path_default_log_dir(s->job.file);
    if (dir == NULL) {
        error_set(&s->err, "out of memory");
        return session_fail(s, ERR_INVALID);
    }
    rc = path_check_default_log_dir(dir, &s->err);
    if (rc == 0) {
        rc = path_check_writable_dir(dir, "log directory", &s->err);
    }
    free(dir);
    return rc != 0 ? session_fail(s, rc) : 0;
}

/* --shards, --shard and --work-dir: with the command they are for, and not with what a shard's
 * run cannot do. */
static int
check_shard_options(const struct cli *cli, enum session_for what)
{
    int sharding = cli->shards != NULL || cli->shard != NULL;

    if (cli->shards != NULL && what != FOR_PLAN) {
        return cli_usage_error("%s", "--shards N is an option of tranche plan (tranche run takes "
                                     "--shard I/N)");
    }
    if (cli->shard != NULL && what != FOR_RUN) {
        return cli_usage_error("%s", "--shard I/N is an option of tranche run (tranche plan "
                                     "takes --shards N)");
    }
    if (sharding && cli->work_dir == NULL) {
        return cli_usage_error("%s", "--shards and --shard need --work-dir DIR");
    }
    if (!sharding && cli->work_dir != NULL) {
        return cli_usage_error("%s", "--work-dir goes with --shards N (plan) or --shard I/N (run)");
    }
    if (sharding && cli->job_path == NULL) {
        return cli_usage_error("%s", "shards need a job file (each shard's run reads it again)");
    }
    if (cli->shard != NULL && (cli->output != NULL || cli->only_partition >= 0 ||
                               cli->replay != NULL || cli->in_process || cli->resume)) {
        return cli_usage_error("%s", "--shard writes its part in --work-dir: not with --output, "
                                     "--partition, --replay, --in-process or --resume");
    }
    return 0;
}

/* --shard I/N or auto, against the plan's n shards. */
static int
parse_shard(const char *text, size_t n, size_t *index, struct error *err)
{
    unsigned long long i, of;
    int end = 0;

    if (strcmp(text, "auto") == 0) {
        return shards_auto_index(n, index, err);
    }
    if (sscanf(text, "%llu/%llu%n", &i, &of, &end) != 2 || text[end] != '\0' || of == 0 ||
        i >= of || text[0] == '-' || strchr(text, '/')[1] == '-') {
        return error_set(err, "--shard: expected I/N (I from 0 to N-1) or auto, not '%s'", text);
    }
    if (of != n) {
        return error_set(err, "--shard %s: the shard plan has %zu shard(s)", text, n);
    }
    *index = (size_t)i;
    return 0;
}

/* run --shard: reads the shard plan, checks the job and its inputs against it, and keeps the
 * shard's partitions in s->plan; the output becomes the shard's part. */
static int
shard_prepare(struct session *s)
{
    uint64_t config = resume_job_digest(&s->job);
    struct plan mine;
    char *part;

    memset(&mine, 0, sizeof(mine));
    if (shards_read(s->cli.work_dir, &s->shards, &s->err) != 0 ||
        parse_shard(s->cli.shard, s->shards.n, &s->shard, &s->err) != 0 ||
        shards_select(&s->shards, s->shard, &s->job, config, &s->inputs, &s->plan, &mine,
                      &s->window, &s->err) != 0) {
        plan_release(&mine);
        return session_fail(s, ERR_INVALID);
    }
    plan_release(&s->plan);
    s->plan = mine;
    part = shards_part_path(s->shards.dir, s->shard);
    if (part == NULL) {
        error_set(&s->err, "out of memory");
        return session_fail(s, ERR_INVALID);
    }
    free(s->job.output);
    s->job.output = part;
    /* Shards run at once, on one machine or on a cluster's shared file system: the job's
     * log_dir would be every shard's, so each logs to its own in the work directory
     * (--log-dir still chooses). */
    if (s->cli.log_dir == NULL) {
        free(s->job.log_dir);
        if (asprintf(&s->job.log_dir, "%s/logs-%zu", s->shards.dir, s->shard) < 0) {
            s->job.log_dir = NULL;
            error_set(&s->err, "out of memory");
            return session_fail(s, ERR_INVALID);
        }
    }
    s->sharded = 1;
    return 0;
}

/*
 * Everything `run` checks before it runs, for run, plan and validate alike (validate is run
 * without the running): the session is opened, planned (a stream's partitions are cut as it is
 * decoded), --partition checked against the plan, the output and the log directory checked.
 */
static int
session_prepare(struct session *s, int argc, char **argv, int *help, enum session_for what)
{
    int rc = session_open(s, argc, argv, help);

    if (rc != 0 || *help) {
        if (*help) {
            fputs(cli_run_help, stdout);
        }
        return rc;
    }
    rc = check_shard_options(&s->cli, what);
    if (rc != 0) {
        return rc;
    }
    if (inputs_plan(&s->job, &s->inputs, &s->plan, &s->err) != 0) {
        return session_fail(s, ERR_INVALID);
    }
    if (s->cli.shard != NULL && shard_prepare(s) != 0) {
        return ERR_INVALID;
    }
    rc = check_partition_exists(s);
    return rc != 0 ? rc : check_destinations(s, what);
}

static void
session_close(struct session *s)
{
    inputs_release(&s->inputs);
    plan_release(&s->plan);
    shards_release(&s->shards);
    steps_free(s->steps, s->job.n_steps);
    config_release(&s->job);
    cli_release(&s->cli);
}

int
cmd_validate(int argc, char **argv)
{
    struct session s;
    int help, rc = session_prepare(&s, argc, argv, &help, FOR_VALIDATE);
    size_t i;

    if (rc == 0 && !help) {
        printf("%s: ok: %zu input file(s), %zu step(s):", s.job.file, s.job.n_inputs,
               s.job.n_steps);
        for (i = 0; i < s.job.n_steps; i++) {
            /* (an exec step by its command: "exec awk", as its label has it) */
            const char *label = strchr(s.steps[i].label, '(');
            if (s.job.steps[i].exec && label != NULL) {
                printf(" %.*s", (int)strlen(label + 1) - 1, label + 1);
            } else {
                printf(" %s", s.steps[i].plugin->desc->name);
            }
            printf("%s", i + 1 < s.job.n_steps ? " |" : "");
        }
        printf(", output %s\n", s.job.output);
    }
    session_close(&s);
    return rc;
}

/* plan --shards N: writes the shard plan in --work-dir and prints its shards. */
static int
plan_shards(struct session *s)
{
    int n = 0, rc;

    if (config_parse_workers(s->cli.shards, &n) != 0 || n <= 0) {
        return cli_usage_error("--shards: expected a positive number of shards, not '%s'",
                               s->cli.shards);
    }
    rc = shards_make(&s->job, &s->inputs, &s->plan, (size_t)n, resume_job_digest(&s->job),
                     output_gzip_level(&s->job), &s->shards, &s->err);
    if (rc == 0 && shards_write(&s->shards, s->cli.work_dir, &s->err) != 0) {
        rc = ERR_INVALID;
    }
    if (rc != 0) {
        return session_fail(s, rc);
    }
    shards_print(&s->shards, &s->inputs, &s->plan);
    return fflush(stdout) == 0 ? 0 : ERR_FAILED;
}

int
cmd_plan(int argc, char **argv)
{
    struct session s;
    int help, rc = session_prepare(&s, argc, argv, &help, FOR_PLAN);
    size_t i;

    if (rc == 0 && !help && s.cli.shards != NULL) {
        rc = plan_shards(&s);
    } else if (rc == 0 && !help) {
        explain_streams(&s.job, &s.inputs);
        for (i = 0; i < s.plan.n_parts; i++) {
            const struct partition *p = &s.plan.parts[i];
            printf("%zu %" PRIu64 " %" PRIu64, p->index, p->start, p->end);
            if (s.job.n_inputs > 1) {
                putchar(' ');
                print_name(s.job.inputs[p->file]);
            }
            putchar('\n');
        }
        rc = fflush(stdout) == 0 ? 0 : ERR_FAILED;
    }
    session_close(&s);
    return rc;
}

int
cmd_merge_partials(const struct shard_plan *sp, const char *out, int fsync)
{
    struct session s;
    char **parts;
    size_t i;
    int rc = 0;

    memset(&s, 0, sizeof(s));
    s.cli.job_path = sp->job_path;
    s.cli.only_partition = -1;
    if (shards_check_parts(sp, &s.err) != 0) {
        fprintf(stderr, "tranche: merge: %s\n", s.err.msg);
        return ERR_FAILED;
    }
    if (load_job(&s.cli, &s.job, &s.err) != 0 || steps_load(&s.job, &s.steps, &s.err) != 0 ||
        run_check_stack(s.job.n_steps, &s.err) != 0) {
        rc = session_fail(&s, ERR_INVALID);
        goto out;
    }
    if (shards_combine_digest(&s.job) != sp->combine) {
        error_set(&s.err,
                  "its steps or input format are not those the shard plan in %s was made for (the "
                  "file changed since, or the plan and the shards had options such as --set that "
                  "change them): the merge runs the combine phase of the job as its file says",
                  sp->dir);
        rc = session_fail(&s, ERR_INVALID);
        goto out;
    }
    /* (the header row: the aggregator's combine phase may look its columns up) */
    if (inputs_open(&s.job, &s.inputs, &s.err) != 0 ||
        inputs_read_header(&s.job, &s.inputs, &s.err) != 0) {
        rc = session_fail(&s, ERR_INVALID);
        goto out;
    }
    parts = calloc(sp->n, sizeof(*parts));
    for (i = 0; parts != NULL && i < sp->n; i++) {
        if ((parts[i] = shards_part_path(sp->dir, i)) == NULL) {
            break;
        }
    }
    if (parts == NULL || i < sp->n) {
        fprintf(stderr, "tranche: out of memory\n");
        rc = ERR_INVALID;
    } else {
        rc = aggregate_merge(&s.job, s.steps, parts, sp->n, out, sp->gzip_level, fsync, -1, &s.err);
        if (rc != 0 && rc != ERR_PIPE) {
            fprintf(stderr, "tranche: merge: %s\n", s.err.msg);
        }
    }
    for (i = 0; parts != NULL && i < sp->n; i++) {
        free(parts[i]);
    }
    free(parts);
out:
    s.cli.job_path = NULL;
    session_close(&s);
    return rc;
}

/* Streams large enough that a run leaves them an index (at least two index spacings, even
 * compressed): the hint to index them first is for those; small files get no index anyway. */
static size_t
large_streams(const struct inputs *in)
{
    size_t i, n = 0;

    for (i = 0; i < in->n; i++) {
        /* (standard input is never indexed: no hint for it) */
        n += in->v[i].kind == INPUT_STREAM && !in->v[i].is_stdin &&
             (uint64_t)in->v[i].st.st_size >= 2 * in->index_spacing;
    }
    return n;
}

/* Several large gzip inputs without an index are decoded one after another on a first run:
 * says how to index them in parallel first. */
static void
hint_indexing(const struct session *s)
{
    size_t n = large_streams(&s->inputs);

    if (n > 1 && s->job.workers > 1 && framing_syncs(&s->job.framing) &&
        s->cli.only_partition < 0 && !s->cli.in_process && s->cli.replay == NULL) {
        fprintf(stderr,
                "tranche: %zu large gzip inputs have no index yet: this run decodes them one "
                "after another (and indexes them); 'tranche index --jobs N FILE.gz...' would "
                "index them in parallel first\n",
                n);
    }
}

/* Whether the output is a device or a FIFO (written as the job runs, not replaced). */
static int
written_in_place(const char *path)
{
    struct stat st;

    return strcmp(path, "-") != 0 && stat(path, &st) == 0 &&
           (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode));
}

/* --replay: not with --partition; every index in the plan (a stream's partitions are not known
 * yet: the replay says so when it gets there). */
static int
check_replay(const struct session *s)
{
    size_t i;

    if (s->cli.replay == NULL) {
        return 0;
    }
    if (s->cli.only_partition >= 0) {
        return cli_usage_error("%s", "--replay and --partition: give one of them");
    }
    for (i = 0; s->inputs.n_streams == 0 && i < s->cli.n_replay; i++) {
        if (s->cli.replay[i] >= s->plan.n_parts) {
            fprintf(stderr, "tranche: --replay: partition %zu: the plan has %zu partition(s)%s\n",
                    s->cli.replay[i], s->plan.n_parts,
                    s->plan.n_parts > 0 ? ", numbered from 0 (see tranche plan)" : "");
            return ERR_INVALID;
        }
    }
    return 0;
}

/* Whether an input is standard input (nothing to replay from). */
static int
reads_stdin(const struct job *job)
{
    size_t i;

    for (i = 0; i < job->n_inputs; i++) {
        if (strcmp(job->inputs[i], "-") == 0 || strcmp(job->inputs[i], "/dev/stdin") == 0) {
            return 1;
        }
    }
    return 0;
}

/* The default log directory: a new run directory in the job's own (paths.h). *hold_fd: the
 * run's lock on it, held until the run ends. */
static int
default_log_dir(struct session *s, int *hold_fd)
{
    char *dir;
    int rc;

    if (s->job.log_dir != NULL) {
        return 0;
    }
    dir = path_default_log_dir(s->job.file);
    if (dir == NULL) {
        fprintf(stderr, "tranche: out of memory\n");
        return ERR_INVALID;
    }
    rc = path_new_run_dir(dir, PATH_LOG_RUNS_KEPT, s->cli.replay == NULL, &s->job.log_dir, hold_fd,
                          &s->err);
    if (rc != 0) {
        fprintf(stderr, "tranche: %s: %s\n", s->job.file, s->err.msg);
    }
    free(dir);
    return rc;
}

/* --summary-json FILE: its directory exists and may be written in, and FILE is not a directory,
 * so that the copy cannot fail for those reasons after the run (a failure there is a warning
 * that leaves the job's result alone). */
static int
check_summary_json(const char *path)
{
    struct stat st;
    char *dir;
    int rc = 0;

    if (path == NULL) {
        return 0;
    }
    dir = path_dirname(path);
    if (dir == NULL) {
        fprintf(stderr, "tranche: out of memory\n");
        return ERR_INVALID;
    }
    if (*path == '\0' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        rc = cli_usage_error("--summary-json '%s': not a file name", path);
    } else if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "tranche: --summary-json %s: %s is not a directory\n", path, dir);
        rc = ERR_INVALID;
    } else if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "tranche: --summary-json %s: cannot write in %s: %s\n", path, dir,
                strerror(errno));
        rc = ERR_INVALID;
    }
    free(dir);
    return rc;
}

/* Runs the planned job and says how it went. */
static int
run_planned(struct session *s, struct repro *rp)
{
    struct run_options opt;
    int rc;

    memset(&opt, 0, sizeof(opt));
    opt.workers = s->job.workers;
    opt.log_dir = s->job.log_dir;
    opt.in_process = s->cli.in_process;
    opt.only_partition = s->cli.only_partition;
    opt.gzip_level = s->sharded ? s->shards.gzip_level : output_gzip_level(&s->job);
    opt.window = s->sharded ? &s->window : NULL;
    opt.gzip_no_eof = s->sharded && s->shard + 1 < s->shards.n;
    /* A shard of a job with an aggregate stage: its part is the partials, plain (the merge
     * combines them and writes the output as the job says). */
    opt.partials_out = s->sharded && s->shards.partials;
    if (opt.partials_out) {
        opt.gzip_level = 0;
        opt.gzip_no_eof = 0;
    }
    opt.fsync = s->cli.fsync || s->job.output_fsync;
    opt.replay = s->cli.replay;
    opt.n_replay = s->cli.n_replay;
    opt.repro = rp;
    opt.progress = !s->cli.quiet && isatty(STDERR_FILENO);
    opt.resume = s->cli.resume;
    opt.summary_line = !s->cli.quiet;
    opt.summary_json = s->cli.summary_json;
    rp->from_stdin = reads_stdin(&s->job);
    /* A stream's partitions depend on how many workers share the ring (run.c): the replay must
     * cut it as this run does. */
    rp->workers = s->inputs.n_streams > 0 ? s->job.workers : 0;
    rp->index_off = s->inputs.n_streams > 0 && s->job.input_index != CONFIG_INDEX_OFF;
    rc = run_job(&s->job, s->steps, &s->plan, &s->inputs, &opt, &s->err);
    config_explain(&s->job, &s->err);
    if (rc == ERR_INVALID) {
        fprintf(stderr, "tranche: %s: %s\n", s->job.file, s->err.msg);
    } else if (rc == ERR_FAILED || rc == ERR_TIMEOUT) {
        fprintf(stderr, "tranche: %s: job failed: %s\n", s->job.file, s->err.msg);
        if (written_in_place(s->job.output)) {
            fprintf(stderr, "tranche: %s is written in place: what was written stays; logs in %s\n",
                    s->job.output, s->job.log_dir);
        } else if (strcmp(s->job.output, "-") != 0) {
            fprintf(stderr, "tranche: nothing was written to %s; logs in %s\n", s->job.output,
                    s->job.log_dir);
        } else {
            fprintf(stderr, "tranche: standard output is incomplete; logs in %s\n", s->job.log_dir);
        }
        if (rp->line != NULL) {
            fprintf(stderr, "  reproduce: %s\n", rp->line);
        }
    }
    /* ERR_PIPE: the reader of standard output left (`tranche run ... -o - | head`): quietly. */
    return rc;
}

int
cmd_run(int argc, char **argv)
{
    struct session s;
    struct repro rp;
    int help, rc, log_hold = -1;

    /* (before getopt reorders argv: the reproduce line keeps the user's order) */
    if (repro_init(&rp, argc, argv) != 0) {
        fprintf(stderr, "tranche: out of memory\n");
        return ERR_INVALID;
    }
    rc = session_prepare(&s, argc, argv, &help, FOR_RUN);

    if (rc != 0 || help) {
        goto out;
    }
    hint_indexing(&s);
    rc = check_replay(&s);
    if (rc == 0) {
        rc = check_summary_json(s.cli.summary_json);
    }
    if (rc == 0) {
        rc = default_log_dir(&s, &log_hold);
    }
    if (rc == 0 && s.sharded && shards_forget(&s.shards, s.shard, &s.err) != 0) {
        rc = session_fail(&s, ERR_INVALID);
    }
    if (rc == 0) {
        rc = run_planned(&s, &rp);
    }
    /* (a shard's part is done once its checksum record is written) */
    if (rc >= 0 && s.sharded && shards_seal(&s.shards, s.shard, &s.err) != 0) {
        rc = session_fail(&s, ERR_FAILED);
    }
out:
    if (log_hold >= 0) {
        close(log_hold);
    }
    repro_release(&rp);
    session_close(&s);
    return rc;
}
