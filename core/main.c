/*
 * core/main.c: the tranche command line: run, plan, validate, plugins, --version, --help.
 * Exit codes: 0 success, 1 the job ran and failed, 2 usage, configuration or set-up error (the job
 * could not start: a bad job file, a plugin that does not load, an input that cannot be opened).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml.h>
#include <zlib.h>

#include "bgzf.h"
#include "config.h"
#include "error.h"
#include "gzindex.h"
#include "gzread.h"
#include "partition.h"
#include "plugin.h"
#include "pool.h"
#include "worker.h"

#define EXIT_JOB_FAILED 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: tranche COMMAND [ARGS]\n"
    "\n"
    "Runs a chain of plugin steps over large record files, in parallel, with output in input\n"
    "order (byte-identical to a one-worker run).\n"
    "\n"
    "commands:\n"
    "  run JOB.yaml [OPTIONS]       run the job\n"
    "  plan JOB.yaml [OPTIONS]      print the partitions, one per line: INDEX START END [FILE]\n"
    "  validate JOB.yaml [OPTIONS]  check the job file, its plugins and their options;\n"
    "                               runs nothing\n"
    "  plugins [NAME]               list the plugins found, or describe one and its options\n"
    "  index [--spacing SIZE] [--jobs N] FILE.gz...\n"
    "                               build the access-point index of gzip files that are not\n"
    "                               BGZF, so that runs decode them in parallel (a run over such\n"
    "                               a file builds it too)\n"
    "  --version                    version, plugin ABI, and the libraries built with\n"
    "  --help, help [COMMAND]       this text, or the options of a command\n"
    "\n"
    "examples:\n"
    "  tranche run configs/access-404-upper.yaml --workers 4\n"
    "  tranche run job.yaml --input 'logs/*.log' --output - | head\n"
    "  tranche plan job.yaml --partition-size 64MiB\n"
    "  gdb --args tranche run job.yaml --partition 3\n"
    "\n"
    "Exit status: 0 success; 1 the job ran and failed (nothing is written at the output path);\n"
    "2 usage, job file, plugin or input error (nothing was run).\n"
    "Plugins are found by name in $TRANCHE_PLUGIN_PATH (colon-separated), then the bundled and\n"
    "installed plugin directories; a name containing '/' is a path to a .so file.\n";

static const char run_help[] =
    "usage: tranche run JOB.yaml [OPTIONS]\n"
    "       tranche plan JOB.yaml [OPTIONS]\n"
    "       tranche validate JOB.yaml [OPTIONS]\n"
    "\n"
    "Options override the job file:\n"
    "  -w, --workers N|auto        worker processes (auto: online CPUs)\n"
    "  -s, --partition-size SIZE   target partition size: bytes, or with KiB, MiB, GiB\n"
    "                              (e.g. 32MiB)\n"
    "  -i, --input PATH            the input file (or glob), instead of input.path\n"
    "  -o, --output PATH           the output file, '-' for standard output\n"
    "  -l, --log-dir DIR           where tranche.log and worker-N.log go\n"
    "Debugging (run only):\n"
    "      --in-process            run every partition in this process, without fork (for gdb,\n"
    "                              valgrind); plugins' stderr stays on the terminal\n"
    "  -p, --partition K           run only partition K (see `tranche plan`), in-process\n"
    "  -q, --quiet                 no summary line on standard error\n"
    "\n"
    "gzip inputs (found by their magic bytes): BGZF is split at its blocks; other gzip is decoded\n"
    "by this process on a first run, which leaves an index (FILE.gz.tranche-index) so that later\n"
    "runs decode it in parallel (see tranche help index).\n"
    "\n"
    "Without log_dir or --log-dir, logs go to $TMPDIR/tranche-logs-UID/JOBNAME (TMPDIR: /tmp).\n";

struct cli {
    const char *job_path;
    const char *workers;
    const char *partition_size;
    const char *input;
    const char *output;
    const char *log_dir;
    int in_process;
    long only_partition;
    int quiet;
};

static int
usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tranche: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'tranche --help' or 'tranche run --help'.\n");
    return EXIT_USAGE;
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
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;

    memset(cli, 0, sizeof(*cli));
    cli->only_partition = -1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":w:s:i:o:l:p:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            cli->workers = optarg;
            break;
        case 's':
            cli->partition_size = optarg;
            break;
        case 'i':
            cli->input = optarg;
            break;
        case 'o':
            cli->output = optarg;
            break;
        case 'l':
            cli->log_dir = optarg;
            break;
        case 'P':
            cli->in_process = 1;
            break;
        case 'p':
            errno = 0;
            cli->only_partition = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || cli->only_partition < 0) {
                return usage_error("--partition needs a partition index (0, 1, ...), not '%s'",
                                   optarg);
            }
            break;
        case 'q':
            cli->quiet = 1;
            break;
        case 'h':
            fputs(run_help, stdout);
            exit(0);
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        return usage_error(optind >= argc ? "%s" : "expected one job file, got extra '%s'",
                           optind >= argc ? "missing job file (JOB.yaml)" : argv[optind + 1]);
    }
    cli->job_path = argv[optind];
    return 0;
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

/* Whether input i is to be read as gzip: by the job's word, or (auto) by its magic bytes. */
static int
input_is_gzip(const struct job *job, int fd)
{
    unsigned char magic[2];

    if (job->input_compression != CONFIG_COMPRESSION_AUTO) {
        return job->input_compression == CONFIG_COMPRESSION_GZIP;
    }
    return pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

/* What the inputs are, once opened; every array has one slot per input. */
struct opened {
    int *fds;
    struct stat *st;
    struct bgzf_index *gz; /* BGZF: its blocks */
    struct gz_index *gzi;  /* other gzip with a current index: its access points */
    unsigned char *stream; /* other gzip without one: decoded by the parent as the job runs */
};

/*
 * Works out how a gzip input is read: BGZF (its blocks are indexed from the headers), through
 * its access-point index, or as a stream. Returns 0, or EXIT_JOB_FAILED for corrupt BGZF (err says
 * where), or -1 (memory).
 */
static int
classify_gzip_input(const char *path, struct opened *o, size_t i, struct error *err)
{
    char note[1200];
    int rc = bgzf_index_build(o->fds[i], path, (uint64_t)o->st[i].st_size, &o->gz[i], err);

    if (rc == 0) {
        return 0;
    }
    if (rc != BGZF_NOT_BGZF && rc != BGZF_UNSUPPORTED) {
        return EXIT_JOB_FAILED;
    }
    rc = gz_index_load(path, &o->st[i], &o->gzi[i], note, sizeof(note), err);
    if (rc < 0) {
        return -1;
    }
    if (rc == 1 && o->gzi[i].usize == 0) {
        /* Nothing to split: decoding it here is cheap, and checks it. */
        gz_index_release(&o->gzi[i]);
        rc = 0;
    }
    if (rc == 0) {
        if (note[0] != '\0') {
            fprintf(stderr, "tranche: %s; it will be written again\n", note);
        }
        o->stream[i] = 1;
    }
    return 0;
}

/* Loads the job and applies the command-line overrides. */
static int
load_job(const struct cli *cli, struct job *job, struct error *err)
{
    if (config_load(cli->job_path, job, err) != 0) {
        return -1;
    }
    if (cli->workers != NULL && config_parse_workers(cli->workers, &job->workers) != 0) {
        return error_set(err, "--workers: expected a positive integer or 'auto', not '%s'",
                         cli->workers);
    }
    if (cli->partition_size != NULL &&
        config_parse_size(cli->partition_size, &job->partition_size) != 0) {
        return error_set(err,
                         "--partition-size: expected a size such as 65536, 256KiB or 32MiB, "
                         "not '%s'",
                         cli->partition_size);
    }
    if (cli->input != NULL && config_set_input(job, cli->input, err) != 0) {
        return -1;
    }
    if (cli->output != NULL) {
        char *copy = strdup(cli->output);
        if (copy == NULL) {
            return error_set(err, "out of memory");
        }
        free(job->output);
        job->output = copy;
    }
    if (cli->log_dir != NULL) {
        char *copy = strdup(cli->log_dir);
        if (copy == NULL) {
            return error_set(err, "out of memory");
        }
        free(job->log_dir);
        job->log_dir = copy;
    }
    if (job->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        job->workers = n > 0 ? (int)n : 1;
    }
    return 0;
}

/* Opens every input and plans its partitions (a stream's are cut as it is decoded). Returns 0,
 * an exit status (a corrupt compressed input fails the job), or -1 for a usage error. */
static int
open_and_plan(const struct job *job, struct opened *o, struct plan *plan, struct error *err)
{
    struct stat out_st, st;
    int have_out = strcmp(job->output, "-") != 0 && stat(job->output, &out_st) == 0;
    int *fds = o->fds;
    size_t i;

    for (i = 0; i < job->n_inputs; i++) {
        fds[i] = open(job->inputs[i], O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            return error_errno(err, "cannot open input %s", job->inputs[i]);
        }
        if (fstat(fds[i], &st) != 0) {
            return error_errno(err, "cannot stat input %s", job->inputs[i]);
        }
        o->st[i] = st;
        if (!S_ISREG(st.st_mode)) {
            return error_set(err, "input %s is not a regular file", job->inputs[i]);
        }
        if (have_out && st.st_dev == out_st.st_dev && st.st_ino == out_st.st_ino) {
            return error_set(err,
                             "the output %s is also input %zu (%s): refusing to overwrite "
                             "an input",
                             job->output, i + 1, job->inputs[i]);
        }
        posix_fadvise(fds[i], 0, 0, POSIX_FADV_SEQUENTIAL);
        if (input_is_gzip(job, fds[i])) {
            int rc = classify_gzip_input(job->inputs[i], o, i, err);
            if (rc != 0) {
                return rc;
            }
            if (o->gz[i].blocks != NULL && partition_plan_bgzf(plan, i, job->inputs[i], &o->gz[i],
                                                               job->partition_size, err) != 0) {
                return EXIT_USAGE;
            }
            if (o->gzi[i].n > 0 && partition_plan_gzindex(plan, i, job->inputs[i], &o->gzi[i],
                                                          job->partition_size, err) != 0) {
                return EXIT_USAGE;
            }
        } else if (partition_plan_file(plan, i, job->inputs[i], fds[i], (uint64_t)st.st_size,
                                       job->partition_size, job->delimiter, err) != 0) {
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* Calls every step's init and fini once in this process, so option values a plugin rejects
 * (a bad regex, say) are reported as configuration errors before any worker starts. */
static int
check_init(const struct job *job, const struct step *steps, struct error *err)
{
    struct chain *chain = NULL;
    int failed_step;

    if (chain_new(steps, job->n_steps, job->delimiter, 0, -1, NULL, &chain, &failed_step, err) !=
        0) {
        if (failed_step >= 0) {
            const struct config_step *cs = &job->steps[failed_step];
            error_prefix(err, "%s:%d:%d: %s", job->file, cs->pos.line, cs->pos.column,
                         steps[failed_step].label);
        }
        return -1;
    }
    chain_free(chain);
    return 0;
}

static char *
default_log_dir(const char *job_path)
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

enum command { CMD_RUN, CMD_PLAN, CMD_VALIDATE };

static int
cmd_job(enum command cmd, int argc, char **argv)
{
    struct cli cli;
    struct job job;
    struct step *steps = NULL;
    struct plan plan;
    struct error err;
    struct pool_options opt;
    struct pool_inputs inputs;
    struct opened o;
    int *fds = NULL, status = EXIT_USAGE, rc, streams = 0;
    size_t i;

    memset(&job, 0, sizeof(job));
    memset(&plan, 0, sizeof(plan));
    memset(&o, 0, sizeof(o));
    rc = parse_cli(argc, argv, &cli);
    if (rc != 0) {
        return rc;
    }
    if (load_job(&cli, &job, &err) != 0 || steps_load(&job, &steps, &err) != 0 ||
        check_init(&job, steps, &err) != 0) {
        fprintf(stderr, "tranche: %s\n", err.msg);
        goto out;
    }
    fds = o.fds = malloc(job.n_inputs * sizeof(*fds));
    o.st = calloc(job.n_inputs, sizeof(*o.st));
    o.gz = calloc(job.n_inputs, sizeof(*o.gz));
    o.gzi = calloc(job.n_inputs, sizeof(*o.gzi));
    o.stream = calloc(job.n_inputs, sizeof(*o.stream));
    if (fds == NULL || o.st == NULL || o.gz == NULL || o.gzi == NULL || o.stream == NULL) {
        fprintf(stderr, "tranche: out of memory\n");
        goto out;
    }
    for (i = 0; i < job.n_inputs; i++) {
        fds[i] = -1;
        o.gzi[i].fd = -1;
    }
    if (cmd == CMD_VALIDATE) {
        /* Check that every input opens, without reading it. */
        for (i = 0; i < job.n_inputs; i++) {
            fds[i] = open(job.inputs[i], O_RDONLY | O_CLOEXEC);
            if (fds[i] < 0) {
                fprintf(stderr, "tranche: cannot open input %s: %s\n", job.inputs[i],
                        strerror(errno));
                goto out;
            }
            if (input_is_gzip(&job, fds[i])) {
                int rc = fstat(fds[i], &o.st[i]) != 0
                             ? error_errno(&err, "cannot stat input %s", job.inputs[i])
                             : classify_gzip_input(job.inputs[i], &o, i, &err);
                if (rc != 0) {
                    fprintf(stderr, "tranche: %s\n", err.msg);
                    status = rc > 0 ? rc : EXIT_USAGE;
                    goto out;
                }
            }
        }
        printf("%s: ok: %zu input file(s), %zu step(s):", job.file, job.n_inputs, job.n_steps);
        for (i = 0; i < job.n_steps; i++) {
            printf(" %s%s", steps[i].plugin->desc->name, i + 1 < job.n_steps ? " |" : "");
        }
        printf(", output %s\n", job.output);
        status = 0;
        goto out;
    }
    rc = open_and_plan(&job, &o, &plan, &err);
    if (rc != 0) {
        fprintf(stderr, "tranche: %s\n", err.msg);
        status = rc > 0 ? rc : EXIT_USAGE;
        goto out;
    }
    for (i = 0; i < job.n_inputs; i++) {
        streams += o.stream[i];
    }
    if (cmd == CMD_RUN && streams > 1 && job.workers > 1 && cli.only_partition < 0 &&
        !cli.in_process) {
        fprintf(stderr,
                "tranche: %d gzip inputs have no index yet: this run decodes them one "
                "after another (and indexes them); 'tranche index --jobs N FILE.gz...' would "
                "index them in parallel first\n",
                streams);
    }
    if (cmd == CMD_PLAN && streams > 0) {
        for (i = 0; i < job.n_inputs; i++) {
            if (o.stream[i]) {
                fprintf(stderr,
                        "tranche: %s is gzip without an index: its partitions are cut as "
                        "it is decoded, and are not listed (tranche index %s plans them "
                        "ahead, and lets the workers decode it in parallel)\n",
                        job.inputs[i], job.inputs[i]);
            }
        }
    }
    if (streams == 0 && cli.only_partition >= 0 && (size_t)cli.only_partition >= plan.n_parts) {
        fprintf(stderr, "tranche: --partition %ld: the plan has %zu partition(s)%s\n",
                cli.only_partition, plan.n_parts,
                plan.n_parts > 0 ? ", numbered from 0 (see tranche plan)" : "");
        goto out;
    }
    if (cmd == CMD_PLAN) {
        for (i = 0; i < plan.n_parts; i++) {
            const struct partition *p = &plan.parts[i];
            if (job.n_inputs > 1) {
                printf("%zu %" PRIu64 " %" PRIu64 " %s\n", p->index, p->start, p->end,
                       job.inputs[p->file]);
            } else {
                printf("%zu %" PRIu64 " %" PRIu64 "\n", p->index, p->start, p->end);
            }
        }
        status = fflush(stdout) == 0 ? 0 : EXIT_JOB_FAILED;
        goto out;
    }
    if (job.log_dir == NULL) {
        job.log_dir = default_log_dir(job.file);
        if (job.log_dir == NULL) {
            fprintf(stderr, "tranche: out of memory\n");
            goto out;
        }
    }
    memset(&opt, 0, sizeof(opt));
    opt.workers = job.workers;
    opt.log_dir = job.log_dir;
    opt.in_process = cli.in_process;
    opt.only_partition = cli.only_partition;
    opt.gzip_level = output_gzip_level(&job);
    inputs.paths = job.inputs;
    inputs.fds = fds;
    inputs.st = o.st;
    inputs.gz = o.gz;
    inputs.gzi = o.gzi;
    inputs.stream = o.stream;
    /* Points as close as the partitions (so that the next run can cut partitions that small),
     * but no closer than 256 KiB: each costs 32 KiB of index. */
    inputs.index_spacing =
        job.partition_size < GZ_INDEX_SPACING ? job.partition_size : GZ_INDEX_SPACING;
    if (inputs.index_spacing < (256u << 10)) {
        inputs.index_spacing = 256u << 10;
    }
    inputs.n = job.n_inputs;
    switch (pool_run(&job, steps, &plan, &inputs, &opt, &err)) {
    case POOL_OK:
        break;
    case POOL_NOT_STARTED:
        fprintf(stderr, "tranche: %s: %s\n", job.file, err.msg);
        goto out;
    case POOL_BROKEN_PIPE:
        /* The reader of standard output left (`tranche run ... -o - | head`): stop quietly,
         * with the status a shell gives a command killed by SIGPIPE. */
        status = 128 + SIGPIPE;
        goto out;
    default:
        fprintf(stderr, "tranche: %s: job failed: %s\n", job.file, err.msg);
        if (strcmp(job.output, "-") != 0) {
            fprintf(stderr, "tranche: nothing was written to %s; logs in %s\n", job.output,
                    job.log_dir);
        } else {
            fprintf(stderr, "tranche: standard output is incomplete; logs in %s\n", job.log_dir);
        }
        status = EXIT_JOB_FAILED;
        goto out;
    }
    if (!cli.quiet && isatty(STDERR_FILENO)) {
        fprintf(stderr, "tranche: %s: done, output %s, logs in %s\n", job.file, job.output,
                job.log_dir);
    }
    status = 0;
out:
    for (i = 0; fds != NULL && i < job.n_inputs; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    free(fds);
    for (i = 0; o.gz != NULL && i < job.n_inputs; i++) {
        bgzf_index_release(&o.gz[i]);
    }
    for (i = 0; o.gzi != NULL && i < job.n_inputs; i++) {
        gz_index_release(&o.gzi[i]);
    }
    free(o.gz);
    free(o.gzi);
    free(o.st);
    free(o.stream);
    partition_plan_release(&plan);
    steps_free(steps, job.n_steps);
    config_release(&job);
    return status;
}

static const char index_help[] =
    "usage: tranche index [--spacing SIZE] [--jobs N] FILE.gz...\n"
    "\n"
    "Decodes each gzip file once and writes its access-point index: a point (a deflate block\n"
    "boundary and the 32 KiB of output before it) about every SIZE decompressed bytes (default\n"
    "4MiB; smaller makes more, smaller partitions possible and a larger index). A run then starts\n"
    "each worker at its own point, and the file is decoded in parallel.\n"
    "\n"
    "The index goes beside the file (FILE.gz" GZ_INDEX_SUFFIX "), or where that directory is not\n"
    "writable, into $TRANCHE_CACHE_DIR (default $XDG_CACHE_HOME/tranche, else ~/.cache/tranche).\n"
    "It records the file's size and modification time: a changed file is decoded as a stream\n"
    "again, and its index rewritten. BGZF files (bgzip, tranche's own output) need no index.\n"
    "Several files are indexed at once, by up to N processes (--jobs, default: the online\n"
    "CPUs): a job's first run decodes its gzip inputs one after another, so indexing many\n"
    "files ahead of it is faster.\n"
    "Exit status: 0 done; 1 a file is corrupt; 2 usage, or a file that is not gzip.\n";

static volatile sig_atomic_t index_interrupted;

static void
on_index_signal(int sig)
{
    index_interrupted = sig;
}

/* Indexes one file. Returns 0, EXIT_USAGE (cannot open it, not gzip) or EXIT_JOB_FAILED
 * (corrupt, the index cannot be written, interrupted); says why on stderr. */
static int
index_one(const char *path, uint64_t spacing)
{
    static unsigned char buf[1u << 20];
    struct gz_reader *r = NULL;
    struct gz_index_writer *w = NULL;
    struct bgzf_index bgzf;
    struct stat st;
    struct error err;
    unsigned char magic[2];
    char *where = NULL;
    ssize_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc, status = 0;

    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "tranche: cannot open %s: %s\n", path, strerror(errno));
        status = EXIT_USAGE;
        goto out;
    }
    if (pread(fd, magic, 2, 0) != 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
        fprintf(stderr, "tranche: %s is not gzip\n", path);
        status = EXIT_USAGE;
        goto out;
    }
    memset(&bgzf, 0, sizeof(bgzf));
    rc = bgzf_index_build(fd, path, (uint64_t)st.st_size, &bgzf, &err);
    bgzf_index_release(&bgzf);
    if (rc == 0) {
        printf("%s: BGZF: runs split it at its blocks; no index needed\n", path);
        goto out;
    }
    if (gz_reader_new(fd, path, (uint64_t)st.st_size, &r, &err) != 0 ||
        gz_index_writer_new(path, &st, spacing, &w, &err) != 0) {
        fprintf(stderr, "tranche: %s\n", err.msg);
        status = EXIT_JOB_FAILED;
        goto out;
    }
    gz_reader_track(r, spacing, gz_index_writer_add, w);
    while (!index_interrupted && (n = gz_reader_read(r, buf, sizeof(buf), &err)) > 0) {
    }
    if (index_interrupted) {
        fprintf(stderr, "tranche: %s: interrupted by signal SIG%s; no index written\n", path,
                sigabbrev_np((int)index_interrupted));
        status = EXIT_JOB_FAILED;
        goto out;
    }
    if (n < 0) {
        fprintf(stderr, "tranche: %s\n", err.msg);
        status = EXIT_JOB_FAILED;
        goto out;
    }
    rc = gz_index_writer_commit(w, gz_reader_offset(r), &where, &err);
    w = NULL;
    if (rc != 0) {
        fprintf(stderr, "tranche: %s\n", err.msg);
        status = EXIT_JOB_FAILED;
        goto out;
    }
    printf("%s: %" PRIu64 " member(s), %" PRIu64 " bytes decompressed; index written to %s\n", path,
           gz_reader_members(r), gz_reader_offset(r), where);
out:
    free(where);
    gz_index_writer_abort(w);
    gz_reader_free(r);
    if (fd >= 0) {
        close(fd);
    }
    fflush(stdout);
    return status;
}

/* Indexes files[0, n) with up to `jobs` forked processes at once; returns the worst status. */
static int
index_parallel(char **files, int n, int jobs, uint64_t spacing)
{
    pid_t *pids = calloc((size_t)jobs, sizeof(*pids));
    int next = 0, running = 0, status = 0, k, ws;

    if (pids == NULL) {
        fprintf(stderr, "tranche: out of memory\n");
        return EXIT_JOB_FAILED;
    }
    while (next < n || running > 0) {
        pid_t pid;

        while (running < jobs && next < n && !index_interrupted) {
            for (k = 0; pids[k] != 0; k++) {
            }
            fflush(NULL);
            pid = fork();
            if (pid < 0) {
                fprintf(stderr, "tranche: cannot fork: %s\n", strerror(errno));
                status = EXIT_JOB_FAILED;
                next = n;
                break;
            }
            if (pid == 0) {
                _exit(index_one(files[next], spacing));
            }
            pids[k] = pid;
            running++;
            next++;
        }
        if (running == 0) {
            break;
        }
        pid = waitpid(-1, &ws, 0);
        if (pid < 0) {
            if (errno == EINTR && index_interrupted) {
                /* The children may not have had the signal (kill of this process alone):
                 * pass it on, so each removes its temporary file. */
                for (k = 0; k < jobs; k++) {
                    if (pids[k] != 0) {
                        kill(pids[k], SIGTERM);
                    }
                }
                next = n;
            }
            continue;
        }
        for (k = 0; k < jobs && pids[k] != pid; k++) {
        }
        if (k < jobs) {
            pids[k] = 0;
            running--;
        }
        k = WIFEXITED(ws) ? WEXITSTATUS(ws) : EXIT_JOB_FAILED;
        if (k > status) {
            status = k;
        }
    }
    free(pids);
    return index_interrupted && status == 0 ? EXIT_JOB_FAILED : status;
}

/* tranche index: decodes each file once, writing its index. */
static int
cmd_index(int argc, char **argv)
{
    uint64_t spacing = GZ_INDEX_SPACING;
    static const int stop[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    int i, status = 0, rc;
    size_t s;

    /* A stopped index leaves no temporary file behind. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_index_signal;
    sigemptyset(&sa.sa_mask);
    for (s = 0; s < sizeof(stop) / sizeof(stop[0]); s++) {
        sigaction(stop[s], &sa, NULL);
    }
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(index_help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--spacing") == 0 && i + 1 < argc) {
            if (config_parse_size(argv[++i], &spacing) != 0 || spacing == 0) {
                return usage_error("--spacing: expected a size such as 1MiB, not '%s'", argv[i]);
            }
        } else if ((strcmp(argv[i], "--jobs") == 0 || strcmp(argv[i], "-j") == 0) && i + 1 < argc) {
            char *end;
            errno = 0;
            jobs = strtol(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || jobs < 1 || jobs > 1024) {
                return usage_error("--jobs: expected a number of processes (1-1024), not '%s'",
                                   argv[i]);
            }
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            return usage_error("tranche index: unknown option '%s' (see tranche index --help)",
                               argv[i]);
        }
    }
    if (i >= argc) {
        return usage_error("usage: tranche index [--spacing SIZE] [--jobs N] FILE.gz...%s", "");
    }
    if (jobs < 1) {
        jobs = 1;
    }
    if (jobs > 1 && argc - i > 1) {
        return index_parallel(argv + i, argc - i, jobs < argc - i ? (int)jobs : argc - i, spacing);
    }
    for (; i < argc && !index_interrupted; i++) {
        rc = index_one(argv[i], spacing);
        if (rc > status) {
            status = rc;
        }
    }
    return status;
}

static const char *
type_word(enum tranche_option_type t)
{
    switch (t) {
    case TRANCHE_OPT_STRING:
        return "string";
    case TRANCHE_OPT_INT:
        return "int";
    case TRANCHE_OPT_BOOL:
        return "bool";
    case TRANCHE_OPT_LIST:
        return "list";
    }
    return "?";
}

/* text with tabs and newlines written as \t and \n, so a default of white space shows. */
static const char *
escaped(const char *text, char *buf, size_t size)
{
    size_t n = 0;

    for (; *text != '\0' && n + 3 < size; text++) {
        if (*text == '\t' || *text == '\n') {
            buf[n++] = '\\';
            buf[n++] = *text == '\t' ? 't' : 'n';
        } else {
            buf[n++] = *text;
        }
    }
    buf[n] = '\0';
    return buf;
}

static void
describe_plugin(const struct plugin *p)
{
    const struct tranche_plugin *d = p->desc;
    const struct tranche_option *o;
    char shown[64];

    printf("%s %s: %s\n", d->name, d->version != NULL ? d->version : "",
           d->description != NULL ? d->description : "");
    printf("  file: %s\n  ABI: %" PRIu32 ".%" PRIu32 "\n", p->path, d->abi_major, d->abi_minor);
    if (d->options == NULL || d->options[0].name == NULL) {
        printf("  options: none\n");
        return;
    }
    printf("  options:\n");
    for (o = d->options; o->name != NULL; o++) {
        printf("    %-14s %-7s %-9s", o->name, type_word(o->type),
               o->required ? "required" : "optional");
        if (o->default_value != NULL) {
            printf(" default %-8s", escaped(o->default_value, shown, sizeof(shown)));
        }
        printf("  %s\n", o->help != NULL ? o->help : "");
    }
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmd_plugins(int argc, char **argv)
{
    char **dirs, **names = NULL;
    size_t n = 0, cap = 0, i, k;
    struct plugin *p;
    struct error err;
    int status = 0;

    if (argc > 2) {
        return usage_error("usage: tranche plugins [NAME]%s", "");
    }
    if (argc == 2) {
        char *path = NULL;
        if (plugin_find(argv[1], &path, &err) != 0 || plugin_load(path, &p, &err) != 0) {
            fprintf(stderr, "tranche: %s\n", err.msg);
            free(path);
            return EXIT_USAGE;
        }
        describe_plugin(p);
        plugin_free(p);
        free(path);
        return 0;
    }
    dirs = plugin_dirs();
    for (i = 0; dirs != NULL && dirs[i] != NULL; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            int seen = 0;
            if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0) {
                continue;
            }
            for (k = 0; k < n; k++) {
                seen |= strncmp(names[k], e->d_name, len - 3) == 0 && names[k][len - 3] == '\t';
            }
            if (seen) {
                continue; /* an earlier directory wins, as plugin_find does */
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                names = realloc(names, cap * sizeof(*names));
                if (names == NULL) {
                    closedir(d);
                    plugin_dirs_free(dirs);
                    return EXIT_JOB_FAILED;
                }
            }
            if (asprintf(&names[n], "%.*s\t%s/%s", (int)(len - 3), e->d_name, dirs[i], e->d_name) >=
                0) {
                n++;
            }
        }
        if (d != NULL) {
            closedir(d);
        }
    }
    plugin_dirs_free(dirs);
    qsort(names, n, sizeof(*names), name_cmp);
    for (i = 0; i < n; i++) {
        char *path = strchr(names[i], '\t') + 1;
        if (plugin_load(path, &p, &err) != 0) {
            printf("%-10s (not loadable: %s)\n", "?", err.msg);
            status = EXIT_JOB_FAILED;
        } else {
            printf("%-10s %-8s %s\n", p->desc->name,
                   p->desc->version != NULL ? p->desc->version : "",
                   p->desc->description != NULL ? p->desc->description : "");
            plugin_free(p);
        }
        free(names[i]);
    }
    free(names);
    if (n == 0) {
        printf("no plugins found (set TRANCHE_PLUGIN_PATH)\n");
    }
    return status;
}

static void
print_version(void)
{
    printf("tranche %s\n", TRANCHE_VERSION);
    printf("plugin ABI %d.%d\n", TRANCHE_ABI_MAJOR, TRANCHE_ABI_MINOR);
    printf("libyaml %s, zlib %s\n", yaml_get_version_string(), zlibVersion());
    printf("gzip output compressed with %s\n", bgzf_codec());
    printf("gzip input decoded with %s (BGZF blocks, indexed segments) and zlib %s (streams)\n",
           bgzf_codec(), zlibVersion());
}

int
main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd == NULL) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc > 2 && strcmp(argv[2], "index") == 0) {
            fputs(index_help, stdout);
        } else if (argc > 2 && strcmp(argv[2], "plugins") == 0) {
            printf("usage: tranche plugins [NAME]\n  without NAME: every plugin found, one per "
                   "line\n  with NAME: its file, ABI and options\n");
        } else if (argc > 2) {
            fputs(run_help, stdout);
        } else {
            fputs(usage_text, stdout);
        }
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        print_version();
        return 0;
    }
    if (strcmp(cmd, "run") == 0) {
        return cmd_job(CMD_RUN, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "plan") == 0) {
        return cmd_job(CMD_PLAN, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "validate") == 0) {
        return cmd_job(CMD_VALIDATE, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "plugins") == 0) {
        return cmd_plugins(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "index") == 0) {
        return cmd_index(argc - 1, argv + 1);
    }
    return usage_error("unknown command '%s'", cmd);
}
