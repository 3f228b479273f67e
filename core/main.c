/*
 * core/main.c: the tranche command line: finds the command and dispatches to it (cmd_*.c), and
 * maps the command's result to the exit status, in this one place: 0 success, 1 the job ran and
 * failed, 2 usage, job file, plugin or input error (nothing was run), 141 (128 + SIGPIPE) the
 * reader of standard output went away.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <yaml.h>
#include <zlib.h>

#include "cli.h"
#include "codec.h"
#include "config.h"
#include "error.h"
#include "signals.h"
#include "tranche/plugin.h"

#ifndef TRANCHE_REGEX_ENGINE /* set by plugins/CMakeLists.txt */
#define TRANCHE_REGEX_ENGINE "unknown"
#endif

static const char usage_text[] =
    "usage: tranche COMMAND [ARGS]\n"
    "\n"
    "Runs a chain of plugin steps over large record files, in parallel, with output in input\n"
    "order (byte-identical to a one-worker run).\n"
    "\n"
    "commands:\n"
    "  run JOB.yaml [OPTIONS]       run the job\n"
    "  plan JOB.yaml [OPTIONS]      print the partitions, one per line: INDEX START END [FILE]\n"
    "  validate JOB.yaml [OPTIONS]  every check run makes before it runs (job, plugins and\n"
    "                               their options, inputs, plan, output); runs nothing\n"
    "  run|plan|validate --step PLUGIN [--set OPTION=VALUE...] ... --input PATH\n"
    "                               the same, with a job made on the command line\n"
    "  filter JOB.yaml [OPTIONS]    the job's steps over the records of standard input, to\n"
    "                               standard output, in this process (no plan, no workers):\n"
    "                               for Hadoop Streaming (-mapper) and Spark's RDD.pipe\n"
    "  plugins [NAME]               list the plugins found, or describe one and its options\n"
    "  new NAME [DIR]               write a plugin project (source, CMake, sample job, test)\n"
    "  index [--spacing SIZE] [--jobs N] FILE.gz...\n"
    "                               build the access-point index of gzip files that are not\n"
    "                               BGZF, so that runs decode them in parallel (a run over such\n"
    "                               a file builds it too)\n"
    "  report LOGDIR [-o FILE]      write a run's report.html (timeline, throughput, slowest\n"
    "                               partitions, retries, skipped records) from its summary\n"
    "  plan JOB.yaml --shards N --work-dir D\n"
    "  run JOB.yaml --shard I/N|auto --work-dir D\n"
    "  merge --work-dir D [-o OUT]  cut a job into N shards that run apart (a Slurm job array),\n"
    "  status --work-dir D          run one, merge their parts, list the shards not done\n"
    "  submit --slurm JOB.yaml --shards N [--dry-run] [-- SBATCH_ARGS...]\n"
    "                               run the job as N shards on Slurm: a job array, one shard\n"
    "                               a task, and a merge job after it (--help for the rest)\n"
    "  --version                    version, plugin ABI, and the libraries built with\n"
    "  --help, help [COMMAND]       this text, or the options of a command\n"
    "\n"
    "examples:\n"
    "  tranche run configs/access-404-upper.yaml --workers 4\n"
    "  tranche run job.yaml --input 'logs/*.log' --output - | head\n"
    "  tranche plan job.yaml --partition-size 64MiB\n"
    "  tranche run job.yaml --set output.level=1 --set 2.fields=1,3\n"
    "  zcat x.gz | tranche run --step grep --set pattern=ERROR --input - --output errors.txt\n"
    "  gdb --args tranche run job.yaml --partition 3\n"
    "  hadoop jar hadoop-streaming.jar -files job.yaml -mapper 'tranche filter job.yaml' ...\n"
    "\n"
    "Exit status: 0 success; 1 the job ran and failed (nothing is written at the output path);\n"
    "2 usage, job file, plugin or input error (nothing was run); 141 the reader of standard\n"
    "output went away (-o - | head).\n"
    "Plugins are found by name in $TRANCHE_PLUGIN_PATH (colon-separated), then the bundled and\n"
    "installed plugin directories; a name containing '/' is a path to a .so file.\n";

int
cli_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tranche: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'tranche --help' or 'tranche run --help'.\n");
    return ERR_INVALID;
}

void
cli_take_job_arg(struct config_cli *args, int c, char **argv)
{
    struct config_arg *arg = (struct config_arg *)(c == 'T' ? &args->steps[args->n_steps++]
                                                            : &args->sets[args->n_sets++]);

    arg->text = optarg;
    /* where it is on the whole command line (`tranche` is argument 0, the command 1): its value
     * was the next argument, or was in it (--step=NAME) */
    arg->argi = argv[optind - 1] == optarg ? optind - 1 : optind;
    arg->step = c == 'T' ? 0 : args->n_steps;
}

int
cli_job_source(int argc, char **argv, const struct config_cli *args, const char **job_path)
{
    if (optind < argc - 1) {
        return cli_usage_error("expected one job file, got extra '%s'", argv[optind + 1]);
    }
    *job_path = optind < argc ? argv[optind] : NULL;
    if (*job_path != NULL && args->n_steps > 0) {
        return cli_usage_error("--step %s makes a job without a job file; to change a step of "
                               "the job file, use --set STEP.OPTION=VALUE",
                               args->steps[0].text);
    }
    if (*job_path == NULL && args->n_steps == 0) {
        return cli_usage_error("%s", "missing job file (JOB.yaml), or --step PLUGIN to make the "
                                     "job on the command line");
    }
    return 0;
}

static void
print_version(void)
{
    printf("tranche %s\n", TRANCHE_VERSION);
    printf("plugin ABI %d.%d\n", TRANCHE_ABI_MAJOR, TRANCHE_ABI_MINOR);
    printf("libyaml %s, zlib %s\n", yaml_get_version_string(), zlibVersion());
    printf("gzip output compressed with %s\n", codec_name());
    printf("gzip input decoded with %s (BGZF blocks, indexed segments) and zlib %s (streams)\n",
           codec_name(), zlibVersion());
    printf("regex engine of the grep and replace plugins: %s\n", TRANCHE_REGEX_ENGINE);
}

static int
help(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "filter") == 0) {
        fputs(cli_filter_help, stdout);
    } else if (argc > 1 && strcmp(argv[1], "index") == 0) {
        fputs(cli_index_help, stdout);
    } else if (argc > 1 && strcmp(argv[1], "plugins") == 0) {
        fputs(cli_plugins_help, stdout);
    } else if (argc > 1 && strcmp(argv[1], "new") == 0) {
        fputs(cli_new_help, stdout);
    } else if (argc > 1 && strcmp(argv[1], "report") == 0) {
        fputs(cli_report_help, stdout);
    } else if (argc > 1 && strcmp(argv[1], "merge") == 0) {
        fputs(cli_merge_help, stdout);
    } else if (argc > 1 && strcmp(argv[1], "status") == 0) {
        fputs(cli_status_help, stdout);
    } else if (argc > 1 && strcmp(argv[1], "submit") == 0) {
        fputs(cli_submit_help, stdout);
    } else if (argc > 1) {
        fputs(cli_run_help, stdout);
    } else {
        fputs(usage_text, stdout);
    }
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"run", cmd_run},         {"plan", cmd_plan},     {"validate", cmd_validate},
    {"plugins", cmd_plugins}, {"index", cmd_index},   {"help", help},
    {"new", cmd_new},         {"report", cmd_report}, {"merge", cmd_merge},
    {"status", cmd_status},   {"submit", cmd_submit}, {"filter", cmd_filter},
};

/* Descriptors 0-2 open (on /dev/null if they were closed), so that no file the run opens gets
 * one of them and receives what is meant for standard output or error (git's sanitize_stdfds). */
int cli_stdout_closed;

static void
sanitize_stdfds(void)
{
    int fd;

    cli_stdout_closed = fcntl(STDOUT_FILENO, F_GETFD) < 0;
    fd = open("/dev/null", O_RDWR);
    while (fd >= 0 && fd <= STDERR_FILENO) {
        fd = open("/dev/null", O_RDWR);
    }
    if (fd > STDERR_FILENO) {
        close(fd);
    }
}

/* A pool holds two descriptors per worker and one per input: the soft limit goes up to the hard
 * one (as Redis does), so the usual soft 1024 is not what stops a large job. */
static void
raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int
main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;
    size_t i;

    sanitize_stdfds();
    signals_init();
    raise_fd_limit();

    if (cmd == NULL) {
        fputs(usage_text, stderr);
        return error_exit_status(ERR_INVALID);
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        print_version();
        return 0;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(cmd, commands[i].name) == 0) {
            return error_exit_status(commands[i].fn(argc - 1, argv + 1));
        }
    }
    return error_exit_status(cli_usage_error("unknown command '%s'", cmd));
}
