/* core/cmd_index.c: `tranche index [--spacing SIZE] [--jobs N] FILE.gz...`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "error.h"
#include "gzindex.h"
#include "gzindex_build.h"
#include "signals.h"

const char cli_index_help[] =
    "usage: tranche index [--spacing SIZE] [--jobs N] [--beside] FILE.gz...\n"
    "\n"
    "Decodes each gzip file once and writes its access-point index: a point (a deflate block\n"
    "boundary and the 32 KiB of output before it) about every SIZE decompressed bytes (default\n"
    "4MiB; smaller makes more, smaller partitions possible and a larger index). A run then starts\n"
    "each worker at its own point, and the file is decoded in parallel.\n"
    "\n"
    "The index goes into your cache, $TRANCHE_CACHE_DIR (default $XDG_CACHE_HOME/tranche, else\n"
    "~/.cache/tranche), kept within $TRANCHE_CACHE_SIZE (default 1GiB) by dropping the indexes\n"
    "used least recently; with --beside, beside the file (FILE.gz" GZ_INDEX_SUFFIX ", to share\n"
    "it with other users or machines). A run reads either.\n"
    "It records the file's size and modification time: a changed file is decoded as a stream\n"
    "again, and its index rewritten. BGZF files (bgzip, tranche's own output) need no index.\n"
    "Several files are indexed at once, by up to N processes (--jobs, default: the online\n"
    "CPUs): a job's first run decodes its gzip inputs one after another, so indexing many\n"
    "files ahead of it is faster.\n"
    "Exit status: 0 done; 1 a file is corrupt; 2 usage, or a file that is not gzip.\n";

struct index_cli {
    uint64_t spacing;
    long jobs;
    int first_file; /* argv index of the first file */
    int beside;     /* write the index beside each file, not into the cache */
    int help;
};

static int
parse_jobs(const char *text, long *jobs)
{
    char *end;

    errno = 0;
    *jobs = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || *jobs < 1 || *jobs > 1024) {
        return cli_usage_error("--jobs: expected a number of processes (1-1024), not '%s'", text);
    }
    return 0;
}

/* Options may come before or after the files (GNU getopt's permutation); `--` ends them. */
static int
parse_index_cli(int argc, char **argv, struct index_cli *cli)
{
    static const struct option longopts[] = {
        {"spacing", required_argument, NULL, 's'},
        {"jobs", required_argument, NULL, 'j'},
        {"beside", no_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    cli->spacing = GZ_INDEX_SPACING;
    cli->jobs = sysconf(_SC_NPROCESSORS_ONLN);
    cli->help = 0;
    cli->beside = 0;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":s:j:h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cli->help = 1;
            return 0;
        }
        if (c == 'b') {
            cli->beside = 1;
        }
        if (c == 's' && (config_parse_size(optarg, &cli->spacing) != 0 || cli->spacing == 0)) {
            return cli_usage_error("--spacing: expected a size such as 1MiB, not '%s'", optarg);
        }
        if (c == 'j' && parse_jobs(optarg, &cli->jobs) != 0) {
            return ERR_INVALID;
        }
        if (c == ':') {
            return cli_usage_error("tranche index: option '%s' needs a value", argv[optind - 1]);
        }
        if (c == '?') {
            return cli_usage_error("tranche index: unknown option '%s' (see tranche index --help)",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        return cli_usage_error("usage: tranche index [--spacing SIZE] [--jobs N] FILE.gz...%s", "");
    }
    cli->first_file = optind;
    if (cli->jobs < 1) {
        cli->jobs = 1;
    }
    return 0;
}

int
cmd_index(int argc, char **argv)
{
    struct signals_saved saved;
    struct index_cli cli;
    int rc;

    /* A stopped index leaves no temporary file behind. */
    signals_catch(&saved, 0);
    rc = parse_index_cli(argc, argv, &cli);
    if (rc == 0 && cli.help) {
        fputs(cli_index_help, stdout);
    } else if (rc == 0) {
        rc = gzindex_build_files(argv + cli.first_file, argc - cli.first_file, (int)cli.jobs,
                                 cli.spacing, cli.beside);
    }
    signals_restore(&saved);
    return rc;
}
