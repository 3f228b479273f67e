/*
 * core/cmd_report.c: `tranche report LOGDIR [-o FILE]`: a run's summary.json (and rejects.tsv)
 * -> one self-contained report.html (report.c), written whole to a temporary file beside it and
 * renamed, so that a reader never sees half a page and a failure leaves the old one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "io.h"
#include "paths.h"
#include "report.h"
#include "signals.h"
#include "summary.h"

const char cli_report_help[] =
    "usage: tranche report LOGDIR [-o FILE]\n"
    "\n"
    "Writes LOGDIR/report.html, one self-contained page (no script, nothing fetched from the\n"
    "network) from the run's LOGDIR/summary.json and LOGDIR/rejects.tsv: the job, its status,\n"
    "times and counts; a timeline of the partitions each worker ran; the throughput over time;\n"
    "the slowest partitions; steps, workers, retries, skipped records and inputs.\n"
    "LOGDIR is a run's log directory (a job's `latest` link will do), or the summary.json\n"
    "itself. The page is written to a temporary file and renamed: never half written.\n"
    "\n"
    "  -o, --output FILE   write it to FILE instead (- is standard output)\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: 0 written (its path is printed); 1 it could not be written; 2 usage, or a\n"
    "summary that is missing or not valid (the message names the file and line:column), or an\n"
    "output that cannot be created.\n";

struct report_cli {
    const char *log_dir; /* the argument: a directory or a summary.json */
    const char *output;  /* NULL: beside the summary */
    int help;
};

static int
parse_report_cli(int argc, char **argv, struct report_cli *cli)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(cli, 0, sizeof(*cli));
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cli->help = 1;
            return 0;
        }
        if (c == 'o') {
            cli->output = optarg;
        }
        if (c == ':') {
            return cli_usage_error("tranche report: option '%s' needs a value", argv[optind - 1]);
        }
        if (c == '?') {
            return cli_usage_error(
                "tranche report: unknown option '%s' (see tranche report --help)",
                argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error("usage: tranche report LOGDIR [-o FILE]%s", "");
    }
    cli->log_dir = argv[optind];
    return 0;
}

/* The summary's path and its directory (where rejects.tsv and report.html go), from LOGDIR or
 * the path of a summary.json; both malloc'd, set only on success. */
static int
locate(const char *arg, char **summary_path, char **dir, struct error *err)
{
    struct stat st;
    char *s = NULL, *d = NULL;

    if (stat(arg, &st) != 0) {
        error_errno(err, "%s", arg);
        return ERR_INVALID;
    }
    if (S_ISDIR(st.st_mode)) {
        d = strdup(arg);
        if (d != NULL && asprintf(&s, "%s/summary.json", arg) < 0) {
            s = NULL;
        }
    } else {
        s = strdup(arg);
        d = path_dirname(arg);
    }
    if (s == NULL || d == NULL) {
        free(s);
        free(d);
        return error_set(err, "out of memory");
    }
    *summary_path = s;
    *dir = d;
    return 0;
}

/* data -> path, through a temporary file in the same directory and a rename. The file gets the
 * mode a new file would (0666 less the umask), not mkstemp's 0600. */
static int
write_atomically(const char *path, const char *data, size_t len, struct error *err)
{
    char *dir = path_dirname(path), *tmp = NULL;
    const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
    mode_t mask;
    int fd = -1, rc = ERR_FAILED;

    if (dir == NULL || asprintf(&tmp, "%s/.%s.XXXXXX", dir, base) < 0) {
        tmp = NULL;
        error_set(err, "out of memory");
        goto out;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        error_errno(err, "cannot create the report in %s", dir);
        rc = ERR_INVALID;
        free(tmp);
        tmp = NULL;
        goto out;
    }
    mask = umask(0);
    umask(mask);
    if (io_write_all(fd, data, len) != 0 || fchmod(fd, 0666 & ~mask) != 0) {
        error_errno(err, "%s", tmp);
        goto out;
    }
    rc = close(fd);
    fd = -1;
    if (rc != 0) {
        rc = error_errno(err, "%s", tmp);
        goto out;
    }
    if (signals_caught != 0) {
        rc = error_set(err, "stopped by SIG%s; %s left as it was", signals_name(signals_caught),
                       path);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = error_errno(err, "cannot rename %s to %s", tmp, path);
        goto out;
    }
    free(tmp);
    tmp = NULL;
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
    }
    free(dir);
    return rc;
}

static int
write_report(const char *output, const char *data, size_t len, struct error *err)
{
    if (strcmp(output, "-") != 0) {
        return write_atomically(output, data, len, err);
    }
    if (cli_stdout_closed) {
        return error_set(err, "standard output is closed");
    }
    if (io_write_all(STDOUT_FILENO, data, len) != 0) {
        return errno == EPIPE ? ERR_PIPE : error_errno(err, "standard output");
    }
    return 0;
}

static int
run_report(const struct report_cli *cli, struct error *err)
{
    struct summary s = {0};
    struct report_rejects rejects = {0};
    char *summary_path = NULL, *dir = NULL, *rejects_path = NULL, *output = NULL, *page = NULL;
    size_t page_len = 0;
    FILE *f = NULL;
    int rc;

    rc = locate(cli->log_dir, &summary_path, &dir, err);
    if (rc != 0) {
        goto out;
    }
    rc = summary_load(summary_path, &s, err);
    if (rc != 0) {
        goto out;
    }
    if (asprintf(&rejects_path, "%s/rejects.tsv", dir) < 0) {
        rejects_path = NULL;
        rc = error_set(err, "out of memory");
        goto out;
    }
    if (cli->output == NULL && asprintf(&output, "%s/report.html", dir) < 0) {
        output = NULL;
        rc = error_set(err, "out of memory");
        goto out;
    }
    rc = report_rejects_load(rejects_path, REPORT_REJECTS_SHOWN, &rejects, err);
    if (rc != 0) {
        goto out;
    }
    /* The page is made in memory, then written at once: a failure leaves nothing. */
    f = open_memstream(&page, &page_len);
    if (f == NULL) {
        rc = error_errno(err, "cannot make the report");
        goto out;
    }
    rc = report_write_html(f, &s, &rejects, summary_path, err);
    if (fclose(f) != 0 && rc == 0) {
        rc = error_set(err, "out of memory making the report");
    }
    if (rc == 0) {
        rc = write_report(cli->output != NULL ? cli->output : output, page, page_len, err);
    }
    if (rc == 0 && (cli->output == NULL || strcmp(cli->output, "-") != 0)) {
        printf("%s\n", cli->output != NULL ? cli->output : output);
    }
out:
    summary_release(&s);
    report_rejects_release(&rejects);
    free(summary_path);
    free(dir);
    free(rejects_path);
    free(output);
    free(page);
    return rc;
}

int
cmd_report(int argc, char **argv)
{
    struct signals_saved saved;
    struct report_cli cli;
    struct error err = {{0}};
    int rc;

    rc = parse_report_cli(argc, argv, &cli);
    if (rc != 0 || cli.help) {
        if (rc == 0) {
            fputs(cli_report_help, stdout);
        }
        return rc;
    }
    /* A stop signal before the rename leaves the old report; SIGPIPE is EPIPE, for -o -. */
    signals_catch(&saved, 1);
    rc = run_report(&cli, &err);
    signals_restore(&saved);
    if (rc != 0 && rc != ERR_PIPE) {
        fprintf(stderr, "tranche: report: %s\n", err.msg);
    }
    return rc;
}
