/*
 * core/cmd_filter.c: `tranche filter JOB.yaml`: the job's steps over the records of standard
 * input, cut as input.format says, with the output on standard output as it is produced. For
 * engines that split the input themselves and run a command per split (Hadoop Streaming's
 * -mapper, Spark's RDD.pipe): no plan, no partitions, no workers and no fork here (an exec step
 * still runs its command). Standard input is one partition, 0, from byte 0: the steps'
 * begin_partition runs before the first record, end_partition after the last. What needs the
 * plan or the run's machinery (aggregation, a header row, retries, timeouts, resume, one
 * partition, shards) is refused before anything runs, naming the key and why.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "cli.h"
#include "config.h"
#include "error.h"
#include "grow.h"
#include "input.h"
#include "io.h"
#include "loader.h"
#include "paths.h"
#include "rejects.h"
#include "run.h"
#include "signals.h"

#define READ_CHUNK (256u << 10) /* bytes asked of each read() of standard input */

const char cli_filter_help[] =
    "usage: tranche filter JOB.yaml [--set KEY=VALUE...] [--log-dir DIR]\n"
    "       tranche filter --step PLUGIN [--set OPTION=VALUE...] [--step PLUGIN ...]\n"
    "\n"
    "Runs the job's steps over the records of standard input (cut as input.format says: lines\n"
    "with input.delimiter, csv, fastq) and writes the output records on standard output, each\n"
    "followed by the output delimiter, as they are produced. Everything runs in this process:\n"
    "no plan, no partitions, no workers. It is for engines that split the input themselves and\n"
    "run a command per split:\n"
    "  hadoop jar hadoop-streaming.jar -files job.yaml -mapper 'tranche filter job.yaml' ...\n"
    "  rdd.pipe('tranche filter job.yaml')\n"
    "\n"
    "The job file's input.path, output.path, workers, partition_size and log_dir are ignored (a\n"
    "job file may leave input and output out). Standard input is read as plain records (gzip\n"
    "is refused: decompress it first); the output is plain. Refused, because they need the\n"
    "plan or the run's workers: aggregate:, input.header: true (a split begins anywhere in the\n"
    "input), retries above 0, partition_timeout, record_timeout, output.compression: gzip, and\n"
    "the options --resume, --partition, --replay, --shard, --input, --output.\n"
    "\n"
    "Options:\n"
    "      --set KEY=VALUE         any key of the job, as for run: --set 2.fields=3\n"
    "      --step PLUGIN           a job made on the command line, as for run\n"
    "  -l, --log-dir DIR           with on_error: skip, also write the records left out to\n"
    "                              DIR/rejects.tsv and DIR/rejects.bin (DIR must exist)\n"
    "\n"
    "on_error: skip leaves out records a step fails on, each said on standard error as it\n"
    "happens, and exits 3 (max_skipped is kept). Plugins' log lines and anything they print go\n"
    "to standard error. A failing step is exit 1, naming the step and the byte offset of the\n"
    "record in standard input; 141 when the reader of standard output goes away.\n";

/* The command line of filter. */
struct filter_cli {
    const char *job_path; /* NULL: the job is made of --step and --set */
    struct config_cli job_args;
    const char *log_dir;
    int help;
};

/* One run of the chain over standard input. */
struct filter {
    const struct job *job;
    const struct step *steps;
    struct chain *chain;
    int out_fd;    /* standard output, as it was at the start (fd 1 is stderr meanwhile) */
    int pipe_gone; /* the output's reader went away */
    char *buf;     /* bytes read and not yet cut: buf[0] is at stream offset base */
    size_t cap, len;
    uint64_t base;
    int eof;
    uint64_t skipped;
    const char *log_dir; /* --log-dir: rejects.tsv and .bin go there; NULL: none */
    struct rejects rejects;
};

/* Options that belong to run's machinery: refused, with why. */
static int
refuse_option(int c)
{
    static const struct {
        int c;
        const char *text;
    } why[] = {
        {'U', "--resume: filter keeps no work to resume from (the engine re-runs a failed task)"},
        {'p', "--partition: filter has no plan to take a partition of (run it with `tranche "
              "run`)"},
        {'R', "--replay: filter has no plan to replay partitions of (run it with `tranche run`)"},
        {'H', "--shard: filter runs over the split the engine gives it on standard input; shards "
              "are for `tranche run`"},
        {'r', "--retries: filter has no workers to retry in (the engine retries the task)"},
        {'i', "--input: filter reads standard input (the engine's split)"},
        {'o', "--output: filter writes standard output"},
    };
    size_t i;

    for (i = 0; i < sizeof(why) / sizeof(why[0]); i++) {
        if (why[i].c == c) {
            fprintf(stderr, "tranche: filter: %s\n", why[i].text);
        }
    }
    return ERR_INVALID;
}

static int
take_option(struct filter_cli *cli, int c, char **argv)
{
    switch (c) {
    case 'S':
    case 'T':
        cli_take_job_arg(&cli->job_args, c, argv);
        return 0;
    case 'l':
        cli->log_dir = optarg;
        return 0;
    case 'h':
        cli->help = 1;
        return 0;
    case 'U':
    case 'p':
    case 'R':
    case 'H':
    case 'r':
    case 'i':
    case 'o':
        return refuse_option(c);
    case ':':
        return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
    default:
        return cli_usage_error("unknown option '%s' (see tranche filter --help)", argv[optind - 1]);
    }
}

/* The synthetic --set entries that stand in for input.path and output.path: the job file may
 * leave them out, and what it says is not read. */
static const struct config_arg stand_in[] = {
    {"input.path=-", 0, 0},
    {"output.path=-", 0, 0},
};

static int
parse_cli(int argc, char **argv, struct filter_cli *cli)
{
    static const struct option longopts[] = {
        {"set", required_argument, NULL, 'S'},     {"step", required_argument, NULL, 'T'},
        {"log-dir", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {"resume", no_argument, NULL, 'U'},        {"partition", required_argument, NULL, 'p'},
        {"replay", required_argument, NULL, 'R'},  {"shard", required_argument, NULL, 'H'},
        {"retries", required_argument, NULL, 'r'}, {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},  {NULL, 0, NULL, 0},
    };
    struct config_arg *sets;
    int c;

    memset(cli, 0, sizeof(*cli));
    /* (room for one entry per argument, and the stand-ins) */
    sets = calloc((size_t)argc + 2, sizeof(struct config_arg));
    cli->job_args.sets = sets;
    cli->job_args.steps = calloc((size_t)argc, sizeof(struct config_arg));
    if (sets == NULL || cli->job_args.steps == NULL) {
        fprintf(stderr, "tranche: out of memory\n");
        return ERR_INVALID;
    }
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":l:p:i:o:h", longopts, NULL)) != -1) {
        if (take_option(cli, c, argv) != 0) {
            return ERR_INVALID;
        }
        if (cli->help) {
            return 0;
        }
    }
    if (cli_job_source(argc, argv, &cli->job_args, &cli->job_path) != 0) {
        return ERR_INVALID;
    }
    if (cli->job_path != NULL) {
        /* last, so that they win over any --set of the same keys */
        sets[cli->job_args.n_sets++] = stand_in[0];
        sets[cli->job_args.n_sets++] = stand_in[1];
    } else {
        cli->job_args.input = "-";
        cli->job_args.output = "-";
    }
    return 0;
}

static void
cli_release(struct filter_cli *cli)
{
    free((void *)cli->job_args.sets);
    free((void *)cli->job_args.steps);
}

/* What in the job needs the plan or the run's machinery: err says which key and why. */
static int
check_job(const struct job *job, struct error *err)
{
    if (job->aggregate) {
        return error_set(err, "aggregate: the combine phase needs every partition's partials, "
                              "after all of the input: filter sees one split of it (use "
                              "`tranche run`)");
    }
    if (job->framing.header) {
        return error_set(err, "input.header: true: each split of a Hadoop or Spark job begins "
                              "anywhere in the input, so the first record of standard input is "
                              "not the header row (name the columns by number instead)");
    }
    if (job->retries > 0) {
        return error_set(err,
                         "retries: %d: a retry re-runs a partition in a fresh worker; "
                         "filter has neither (the engine retries the task)",
                         job->retries);
    }
    if (job->partition_timeout_ms > 0) {
        return error_set(err, "partition_timeout: filter has no partitions or workers to time "
                              "out (use the engine's task timeout)");
    }
    if (job->record_timeout_ms > 0) {
        return error_set(err, "record_timeout: it kills the worker running the record; filter "
                              "has no workers (use the engine's task timeout)");
    }
    if (job->input_compression == CONFIG_COMPRESSION_GZIP) {
        return error_set(err, "input.compression: gzip: filter reads plain records from "
                              "standard input (decompress them first)");
    }
    if (job->output_compression == CONFIG_COMPRESSION_GZIP) {
        return error_set(err, "output.compression: gzip: filter writes plain records to "
                              "standard output (the engine compresses its output)");
    }
    return 0;
}

/* The chain's sink: straight to standard output. */
static int
write_out(void *arg, const char *data, size_t len, int last, size_t *taken, struct error *err)
{
    struct filter *f = arg;

    (void)last;
    if (len > 0 && io_write_all(f->out_fd, data, len) != 0) {
        f->pipe_gone = errno == EPIPE;
        return error_errno(err, "writing standard output");
    }
    *taken = len;
    return 0;
}

/* A record left out (on_error: skip): counted against max_skipped, and written to --log-dir's
 * rejects files (the chain has said it on standard error, its log). */
static int
reject(void *arg, const struct chain_reject *rej, struct error *err)
{
    struct filter *f = arg;

    f->skipped++;
    if (f->skipped > f->job->max_skipped) {
        return error_set(err,
                         "%" PRIu64 " records were left out (on_error: skip), more than "
                         "max_skipped (%" PRIu64 ")",
                         f->skipped, f->job->max_skipped);
    }
    return f->log_dir != NULL ? rejects_put(&f->rejects, rej, err) : 0;
}

/* Reads more of standard input into f->buf (f->eof at its end). */
static int
read_more(struct filter *f, struct error *err)
{
    ssize_t n;

    if (GROW(f->buf, f->cap, f->len + READ_CHUNK + 1) != 0) {
        return error_set(err, "out of memory for a record of %zu bytes", f->len + READ_CHUNK);
    }
    do {
        if (signals_caught) {
            return error_set(err, "interrupted by signal SIG%s", signals_name((int)signals_caught));
        }
        n = read(STDIN_FILENO, f->buf + f->len, f->cap - f->len - 1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return error_errno(err, "reading standard input");
    }
    f->eof = n == 0;
    f->len += (size_t)n;
    return 0;
}

/* Where malformed bytes at buf[0, len) end, under on_error: skip: at the next read a FASTQ
 * scan finds, or at the end of the input; 0: more bytes will tell. */
static size_t
malformed_length(const struct filter *f, const char *buf, size_t len)
{
    size_t at;

    if (f->job->framing.kind == TRANCHE_FORMAT_FASTQ &&
        framing_boundary(&f->job->framing, buf, len, 1, 0, f->eof, &at) == FRAMING_RECORD) {
        return at;
    }
    return f->eof ? len : 0;
}

/* Cuts the records in f->buf and hands them to the chain; keeps the unfinished one. *st is the
 * scan of the record at f->buf[0]. */
static int
cut(struct filter *f, struct framing_scan *st)
{
    size_t pos = 0, rec_len, total;
    const char *why;
    int rc = 0;

    while (pos < f->len && rc == 0) {
        int k = framing_next(&f->job->framing, st, f->buf + pos, f->len - pos, f->eof, &rec_len,
                             &total, &why);

        if (k == FRAMING_MORE) {
            pos = f->eof ? f->len : pos; /* (blank lines at the end of a FASTQ input) */
            break;
        }
        if (k == FRAMING_BAD && f->job->on_error_skip) {
            total = malformed_length(f, f->buf + pos, f->len - pos);
            if (total == 0) {
                *st = (struct framing_scan)FRAMING_SCAN_INIT;
                break;
            }
            rc = chain_put_malformed(f->chain, f->buf + pos, total, f->base + pos, why);
        } else if (k == FRAMING_BAD) {
            total = f->len - pos;
            rc = chain_put_malformed(f->chain, f->buf + pos, f->len - pos, f->base + pos, why);
        } else {
            f->buf[pos + rec_len] = '\0'; /* (its delimiter, or the byte kept free past the end) */
            rc = chain_put(f->chain, f->buf + pos, rec_len, f->base + pos);
        }
        *st = (struct framing_scan)FRAMING_SCAN_INIT;
        pos += total;
    }
    memmove(f->buf, f->buf + pos, f->len - pos);
    f->len -= pos;
    f->base += pos;
    return rc;
}

/* Standard input that begins as gzip does is refused (with compression auto; none reads it as it
 * is): filter does not decode. */
static int
check_not_gzip(const struct filter *f, struct error *err)
{
    if (f->base == 0 && f->len >= 2 && f->job->input_compression == CONFIG_COMPRESSION_AUTO &&
        (unsigned char)f->buf[0] == 0x1f && (unsigned char)f->buf[1] == 0x8b) {
        error_set(err, "standard input is gzip: filter reads plain records (zcat it first, or "
                       "--set input.compression=none to take the bytes as they are)");
        return ERR_INVALID;
    }
    return 0;
}

/* Standard input, read and cut as it comes, through the chain; the output offered to standard
 * output after each read. */
static int
run_stream(struct filter *f, struct partition_stats *stats, int *failed_step, struct error *err)
{
    static const struct partition whole = {0};
    struct framing_scan st = FRAMING_SCAN_INIT;
    struct input in;
    struct source_input src;
    struct chain_sink sink = {write_out, f};
    struct error read_err, ignored;
    int ok, rc = 0, first = 1, step;

    memset(&in, 0, sizeof(in));
    in.path = "standard input";
    in.kind = INPUT_STREAM;
    in.is_stdin = 1;
    memset(&src, 0, sizeof(src));
    src.input = &in;
    ok = chain_begin(f->chain, &whole, &src, &sink) == 0;
    while (ok && !f->eof) {
        rc = read_more(f, &read_err);
        if (rc == 0 && first && (f->len >= 2 || f->eof)) {
            first = 0;
            rc = check_not_gzip(f, &read_err);
        }
        if (rc != 0) {
            /* (the chain is fine: reading failed, or the input is refused) */
            chain_end(f->chain, 0, stats, &step, &ignored);
            *failed_step = -1;
            *err = read_err;
            return rc;
        }
        ok = cut(f, &st) == 0 && chain_flush(f->chain) == 0;
    }
    return chain_end(f->chain, ok, stats, failed_step, err);
}

/* Prefixes err with step k's place in the job and its label. */
static void
at_step(const struct job *job, const struct step *steps, int k, struct error *err)
{
    char where[ERROR_MSG_MAX];

    error_prefix(err, "%s: %s", config_where(job, job->steps[k].pos, where, sizeof(where)),
                 steps[k].label);
    config_explain(job, err);
}

/* The fraction of max_skipped, checked at the end (the count is checked as records go). */
static int
check_skipped_fraction(const struct filter *f, uint64_t records_in, struct error *err)
{
    double fr = f->job->max_skipped_fraction;

    if (fr >= 0 && f->skipped > 0 && (double)f->skipped > fr * (double)records_in) {
        return error_set(err,
                         "%" PRIu64 " of %" PRIu64 " records were left out (on_error: skip), "
                         "more than max_skipped (%g%%)",
                         f->skipped, records_in, fr * 100);
    }
    return 0;
}

/* The job running in this process while plugins run: a plugin that calls exit() must not end
 * filter with its status (0 would pass a cut output off as whole). */
static const struct job *guarded;
static pid_t guarded_pid;

static void
exit_guard(void)
{
    if (guarded == NULL || getpid() != guarded_pid) {
        return; /* (a child a plugin forked, exiting: not filter's process) */
    }
    fprintf(stderr,
            "tranche: %s: job failed: a plugin called exit() during the job; standard output "
            "is incomplete\n",
            guarded->file);
    _exit(1);
}

static void
guard(const struct job *job)
{
    static int registered;

    if (!registered && atexit(exit_guard) == 0 && at_quick_exit(exit_guard) == 0) {
        registered = 1;
    }
    guarded = job;
    guarded_pid = getpid();
}

/* Starts the chain (every step's init), runs standard input through it, finishes it (fini).
 * Says what failed on stderr; returns the result code. */
static int
filter_run(struct filter *f, struct error *err)
{
    struct partition_stats stats;
    struct chain_skip sk;
    int failed_step = -1, rc;

    if (chain_new(f->steps, f->job->n_steps, &f->job->framing, 0, STDERR_FILENO, NULL, &f->chain,
                  &failed_step, err) != 0) {
        if (failed_step >= 0) {
            at_step(f->job, f->steps, failed_step, err);
        }
        return ERR_INVALID;
    }
    memset(&sk, 0, sizeof(sk));
    sk.on_error_skip = 1;
    sk.only = -1;
    sk.reject = reject;
    sk.arg = f;
    if (f->job->on_error_skip) {
        chain_set_skip(f->chain, &sk);
    }
    chain_set_stop(f->chain, &signals_caught);
    rc = run_stream(f, &stats, &failed_step, err);
    if (rc != 0) {
        chain_free(f->chain);
        if (failed_step >= 0) {
            error_prefix(err, "standard input failed in %s", f->steps[failed_step].label);
        }
        return rc == ERR_INVALID ? rc : f->pipe_gone ? ERR_PIPE : ERR_FAILED;
    }
    if (chain_finish(f->chain, &failed_step, err) != 0) {
        error_prefix(err, "%s failed in fini",
                     failed_step >= 0 ? f->steps[failed_step].label : "a step");
        return ERR_FAILED;
    }
    if (check_skipped_fraction(f, stats.records_in, err) != 0) {
        return ERR_FAILED;
    }
    return f->skipped > 0 ? RESULT_SKIPPED : 0;
}

/* --log-dir: rejects go there (under on_error: skip). */
static int
prepare_rejects(struct filter *f, struct error *err)
{
    if (f->log_dir == NULL || !f->job->on_error_skip) {
        f->log_dir = NULL;
        return 0;
    }
    if (path_check_writable_dir(f->log_dir, "log directory", err) != 0 ||
        rejects_prepare(f->log_dir, err) != 0) {
        return ERR_INVALID;
    }
    rejects_begin(&f->rejects, f->log_dir, 0, "-", f->steps, f->job->n_steps, &f->job->framing);
    return 0;
}

/* Puts --log-dir's rejects together; says how many records were left out. */
static int
finish_rejects(struct filter *f, int rc, struct error *err)
{
    uint64_t count = 0;

    if (f->log_dir != NULL &&
        (rejects_end(&f->rejects, err) != 0 || rejects_collect(f->log_dir, &count, err) != 0)) {
        return ERR_FAILED;
    }
    if (rc == RESULT_SKIPPED) {
        fprintf(stderr, "tranche: %s: %" PRIu64 " record(s) left out (on_error: skip)%s%s%s\n",
                f->job->file, f->skipped, f->log_dir != NULL ? ", listed in " : "",
                f->log_dir != NULL ? f->log_dir : "", f->log_dir != NULL ? "/rejects.tsv" : "");
    }
    return rc;
}

/* Standard output moves to a descriptor of its own, and fd 1 becomes standard error: what a
 * plugin prints is not mixed into the records. Returns the descriptor, or -1. */
static int
take_stdout(void)
{
    int fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);

    if (fd >= 0 && dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
give_back_stdout(int fd)
{
    fflush(stdout);
    dup2(fd, STDOUT_FILENO);
    close(fd);
}

/* Loads the job and its plugins, and checks what filter cannot do. */
static int
load(const struct filter_cli *cli, struct job *job, struct step **steps, struct error *err)
{
    if (config_load_cli(cli->job_path, &cli->job_args, job, err) != 0 || check_job(job, err) != 0 ||
        steps_load(job, steps, err) != 0 || run_check_stack(job->n_steps, err) != 0) {
        config_explain(job, err);
        return ERR_INVALID;
    }
    return 0;
}

/* Says err on stderr, named by the job unless it names its place already. */
static void
say(const char *file, int rc, const struct error *err)
{
    const char *what = rc == ERR_FAILED ? "job failed: " : "";

    if (file != NULL && strncmp(err->msg, file, strlen(file)) != 0 &&
        strncmp(err->msg, "--", 2) != 0) {
        fprintf(stderr, "tranche: %s: %s%s\n", file, what, err->msg);
    } else {
        fprintf(stderr, "tranche: %s%s\n", what, err->msg);
    }
    if (rc == ERR_FAILED) {
        fprintf(stderr, "tranche: standard output is incomplete\n");
    }
}

int
cmd_filter(int argc, char **argv)
{
    struct filter_cli cli;
    struct job job;
    struct step *steps = NULL;
    struct filter f;
    struct signals_saved saved;
    struct error err;
    int rc;

    memset(&job, 0, sizeof(job));
    memset(&f, 0, sizeof(f));
    f.out_fd = -1;
    rc = parse_cli(argc, argv, &cli);
    if (rc != 0 || cli.help) {
        if (cli.help) {
            fputs(cli_filter_help, stdout);
        }
        goto out;
    }
    rc = load(&cli, &job, &steps, &err);
    if (rc != 0) {
        say(job.file, rc, &err);
        goto out;
    }
    if (cli_stdout_closed) {
        fprintf(stderr, "tranche: %s: standard output is closed: nowhere to write the output\n",
                job.file);
        rc = ERR_INVALID;
        goto out;
    }
    f.job = &job;
    f.steps = steps;
    f.log_dir = cli.log_dir;
    rc = prepare_rejects(&f, &err);
    if (rc != 0) {
        say(job.file, rc, &err);
        goto out;
    }
    f.out_fd = take_stdout();
    if (f.out_fd < 0) {
        fprintf(stderr, "tranche: cannot set standard output aside: %s\n", strerror(errno));
        rc = ERR_INVALID;
        goto out;
    }
    signals_catch(&saved, 1); /* stop signals end the loop; a reader that leaves is EPIPE */
    guard(&job);
    rc = filter_run(&f, &err);
    guarded = NULL;
    rc = finish_rejects(&f, rc, &err);
    signals_restore(&saved);
    /* (ERR_PIPE: the reader of standard output left: quietly, as run does) */
    if (rc != 0 && rc != RESULT_SKIPPED && rc != ERR_PIPE) {
        say(job.file, rc, &err);
    }
out:
    if (f.out_fd >= 0) {
        give_back_stdout(f.out_fd);
    }
    free(f.buf);
    steps_free(steps, job.n_steps);
    config_release(&job);
    cli_release(&cli);
    return rc;
}
