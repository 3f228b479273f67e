/*
 * core/cli.h: the commands of the tranche command line (cmd_*.c), which main.c dispatches to.
 * Each takes its own argv (argv[0] is the command's name) and returns a result code (error.h):
 * 0, ERR_FAILED, ERR_INVALID or ERR_PIPE, having said what went wrong on stderr. main.c maps
 * the code to the exit status.
 */
#ifndef TRANCHE_CLI_H
#define TRANCHE_CLI_H

/* run, plan and validate: a job file and the options that override it. */
int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_validate(int argc, char **argv);

/* cmd_filter.c: the job's steps from standard input to standard output, in this process (for
 * Hadoop Streaming and Spark's RDD.pipe) */
int cmd_filter(int argc, char **argv);

int cmd_index(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_new(int argc, char **argv);    /* cmd_new.c: the plugin project scaffold */
int cmd_report(int argc, char **argv); /* cmd_report.c: a run's summary.json -> report.html */
int cmd_merge(int argc, char **argv);  /* cmd_shards.c: the shards' parts -> the output */
int cmd_status(int argc, char **argv); /* cmd_shards.c: which shards are done */
int cmd_submit(int argc, char **argv); /* cmd_submit.c: shards as a Slurm job array + merge */

/* cmd_run.c, for merge: the parts of a shard plan of a job with an aggregate stage, checked,
 * through the job's combine phase into out (aggregate_merge), the job loaded from its file as
 * the plan names it. Returns a result code, having said what went wrong on stderr. */
struct shard_plan;
int cmd_merge_partials(const struct shard_plan *sp, const char *out, int fsync);

/* The help texts, for `tranche help COMMAND` and COMMAND --help. */
extern const char cli_run_help[];
extern const char cli_filter_help[];
extern const char cli_index_help[];
extern const char cli_plugins_help[];
extern const char cli_new_help[];
extern const char cli_report_help[];
extern const char cli_merge_help[];
extern const char cli_status_help[];
extern const char cli_submit_help[];

/* Standard output was closed when tranche started (it is /dev/null now): a command whose output
 * is standard output fails instead of throwing it away. */
extern int cli_stdout_closed;

/* Prints "tranche: " and the message (fmt with one string argument) and a hint to --help on
 * stderr; returns ERR_INVALID. */
int cli_usage_error(const char *fmt, const char *arg);

struct config_cli;

/* For run, plan, validate and filter, whose options are parsed with getopt_long, 'S' standing
 * for --set and 'T' for --step. cli_take_job_arg records the one just parsed (c), in order (a
 * --set after a --step applies to it), in arrays with room for one entry per argument.
 * cli_job_source takes what is left of argv after the options: at most one job file, into
 * *job_path (NULL: none), which excludes --step, and without which --step is needed; returns 0
 * or ERR_INVALID (said). */
void cli_take_job_arg(struct config_cli *args, int c, char **argv);
int cli_job_source(int argc, char **argv, const struct config_cli *args, const char **job_path);

#endif
