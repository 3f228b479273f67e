/*
 * core/cmd_shards.c: `tranche merge` (the shards' parts, checked, into the output) and
 * `tranche status` (which shards are done, and the --array list of the others). The shard plan
 * and the parts are shards.h's; `tranche plan --shards` and `tranche run --shard` are cmd_run.c's.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "shards.h"

const char cli_merge_help[] =
    "usage: tranche merge --work-dir DIR [-o OUT] [--fsync]\n"
    "\n"
    "Checks that every shard of the shard plan in DIR (tranche plan JOB.yaml --shards N\n"
    "--work-dir DIR) has its part, as its checksum record says (size, CRC-32, made for this\n"
    "plan), and that the inputs are as the plan found them, then concatenates the parts in order\n"
    "into OUT (default: the job's output), which is replaced atomically: the same bytes as one\n"
    "run of the job (gzip output too: the parts are BGZF, and only the last has the end block).\n"
    "A missing, truncated, damaged or stale part is named, and nothing is written (exit 1).\n"
    "\n"
    "  -o, --output OUT   where the output goes ('-': standard output)\n"
    "      --fsync        sync the output and its directory at the commit\n"
    "      --work-dir DIR the shards' work directory\n"
    "\n"
    "The whole flow (each `tranche run` anywhere that sees the same files, in any order):\n"
    "  tranche plan job.yaml --shards 8 --work-dir work\n"
    "  tranche run job.yaml --shard 3/8 --work-dir work      (or --shard auto in an array task)\n"
    "  tranche status --work-dir work                        (--array= list of shards not done)\n"
    "  tranche merge --work-dir work\n"
    "For a job with an aggregate stage, each part holds the partial state its shard's map\n"
    "phase made: the merge checks the parts the same way, then reads them in order into the\n"
    "combine phase (the job loaded again from its file, as the plan names it) and writes what\n"
    "it emits to OUT, as one run of the job would.\n";

const char cli_status_help[] =
    "usage: tranche status --work-dir DIR\n"
    "\n"
    "One line per shard of the shard plan in DIR: done, missing or damaged (a part without its\n"
    "checksum record, of another size than it says, or made for another plan; the CRC-32 is\n"
    "read by tranche merge, not here), then, when some are not done, `--array=LIST` of them\n"
    "(e.g. --array=1,3-5) for `sbatch --array`. Exit 0 when every shard is done, 1 otherwise.\n";

/* The options of merge and status. */
struct shards_cli {
    const char *work_dir;
    const char *output;
    int fsync;
    int help;
};

static int
parse(int argc, char **argv, int merge, struct shards_cli *cli)
{
    static const struct option longopts[] = {
        {"work-dir", required_argument, NULL, 'D'},
        {"output", required_argument, NULL, 'o'},
        {"fsync", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(cli, 0, sizeof(*cli));
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, merge ? ":o:h" : ":h", longopts, NULL)) != -1) {
        if (c == 'D') {
            cli->work_dir = optarg;
        } else if (c == 'o' && merge) {
            cli->output = optarg;
        } else if (c == 'F' && merge) {
            cli->fsync = 1;
        } else if (c == 'h') {
            cli->help = 1;
            return 0;
        } else if (c == ':') {
            return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
        } else {
            return cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return cli_usage_error("unexpected argument '%s' (the work directory is --work-dir DIR)",
                               argv[optind]);
    }
    if (cli->work_dir == NULL) {
        return cli_usage_error("%s", "missing --work-dir DIR (the shards' work directory)");
    }
    return 0;
}

int
cmd_merge(int argc, char **argv)
{
    struct shards_cli cli;
    struct shard_plan sp;
    struct error err;
    int rc = parse(argc, argv, 1, &cli);

    if (rc != 0 || cli.help) {
        if (cli.help) {
            fputs(cli_merge_help, stdout);
        }
        return rc;
    }
    if (shards_read(cli.work_dir, &sp, &err) != 0) {
        fprintf(stderr, "tranche: %s\n", err.msg);
        return ERR_INVALID;
    }
    if (cli.output != NULL && strcmp(cli.output, "-") == 0 && cli_stdout_closed) {
        fprintf(stderr, "tranche: the output is standard output, which is closed\n");
        shards_release(&sp);
        return ERR_INVALID;
    }
    if (sp.partials) {
        rc = cmd_merge_partials(&sp, cli.output != NULL ? cli.output : sp.output, cli.fsync);
    } else {
        rc = shards_merge(&sp, cli.output != NULL ? cli.output : sp.output, cli.fsync, &err);
        if (rc != 0) {
            fprintf(stderr, "tranche: merge: %s\n", err.msg);
        }
    }
    shards_release(&sp);
    return rc;
}

/* Appends the shards [from, to] to the --array list (ranges compressed: 0,2-4). */
static void
print_range(size_t from, size_t to, int *first)
{
    printf("%s%zu", *first ? "--array=" : ",", from);
    if (to > from) {
        printf("-%zu", to);
    }
    *first = 0;
}

int
cmd_status(int argc, char **argv)
{
    struct shards_cli cli;
    struct shard_plan sp;
    struct error err;
    enum shard_state *state;
    char why[ERROR_MSG_MAX];
    size_t i, done = 0, from = 0;
    int rc = parse(argc, argv, 0, &cli), first = 1, open_run = 0;

    if (rc != 0 || cli.help) {
        if (cli.help) {
            fputs(cli_status_help, stdout);
        }
        return rc;
    }
    if (shards_read(cli.work_dir, &sp, &err) != 0) {
        fprintf(stderr, "tranche: %s\n", err.msg);
        return ERR_INVALID;
    }
    state = calloc(sp.n, sizeof(*state));
    if (state == NULL) {
        fprintf(stderr, "tranche: out of memory\n");
        shards_release(&sp);
        return ERR_INVALID;
    }
    for (i = 0; i < sp.n; i++) {
        state[i] = shards_state(&sp, i, 0, why, sizeof(why));
        done += state[i] == SHARD_DONE;
        printf("shard %zu: %s\n", i, why);
    }
    printf("%zu of %zu shard(s) done\n", done, sp.n);
    for (i = 0; i < sp.n; i++) {
        if (state[i] != SHARD_DONE && !open_run) {
            from = i;
            open_run = 1;
        } else if (state[i] == SHARD_DONE && open_run) {
            print_range(from, i - 1, &first);
            open_run = 0;
        }
    }
    if (open_run) {
        print_range(from, sp.n - 1, &first);
    }
    if (!first) {
        putchar('\n');
    }
    rc = done == sp.n ? 0 : ERR_FAILED;
    free(state);
    shards_release(&sp);
    return fflush(stdout) != 0 ? ERR_FAILED : rc;
}
