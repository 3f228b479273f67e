/*
 * core/config.h: the job file (YAML) turned into a struct job, with every mistake reported as
 * "FILE:LINE:COLUMN: what is wrong". Plugin options are kept as text with their positions here;
 * they are checked against each plugin's option table by loader.c, which reports at those
 * positions.
 */
#ifndef TRANCHE_CONFIG_H
#define TRANCHE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "framing.h"

/* A position in the job file, 1-based (libyaml's marks are 0-based); 0: not from the file. A
 * negative line -(K + 1) (column 0) is the command-line argument job->origins[K] instead: a
 * --set, a --step (config_where says which). */
struct config_pos {
    int line;
    int column;
};

/* One `key: value` under a step's `options:`. A scalar value is a list of one with is_list == 0. */
struct config_option {
    char *name;
    struct config_pos pos;       /* of the key */
    struct config_pos value_pos; /* of the value */
    int is_list;                 /* the value was a YAML sequence */
    int is_null;                 /* the value was a YAML null (empty, ~ or null, unquoted) */
    char **items;                /* the scalar(s), as text */
    struct config_pos *item_pos; /* one per item */
    size_t n_items;
};

/*
 * One step: a plugin with its options, or (exec != 0) a command run by the built-in exec step
 * (core/exec.h). An exec step's plugin is "exec", and its options are what the job file gave
 * under exec, env and cwd, in its own option names: "argv" (exec: [list]) or "shell" (exec: "a
 * string"), "env" (a list of NAME=value, positioned at each NAME) and "cwd" (resolved against the
 * job file's directory), so that messages point at them as at a plugin's options.
 */
struct config_step {
    char *plugin;  /* a bundled name, or a path if it contains '/' (resolved against the job dir) */
    int aggregate; /* the job's `aggregate:` stage (always the last entry of job->steps) */
    struct config_pos pos; /* of the step's mapping (the `- plugin:` or `- exec:` line) */
    struct config_option *options;
    size_t n_options;
    int exec; /* a command (`exec:`), not a plugin */
};

#define CONFIG_DEFAULT_PARTITION_SIZE (32ull << 20)

/* The most retries a job may ask for (each is a fresh worker process per failed partition). */
#define CONFIG_MAX_RETRIES 100
#define CONFIG_MAX_RETRIES_TEXT "100"

/* input.compression / output.compression. */
enum config_compression {
    CONFIG_COMPRESSION_AUTO = 0, /* input: by the gzip magic bytes; output: by a .gz name */
    CONFIG_COMPRESSION_NONE,
    CONFIG_COMPRESSION_GZIP
};

/* One entry of input.path, or --input: a path or a glob, as written. */
struct config_input_entry {
    char *text;
    struct config_pos pos; /* of the entry in the job file; 0:0 for --input */
};

/* Job files are refused past these, before they cost more than a moment to read. */
#define CONFIG_MAX_FILE_SIZE (1u << 20) /* bytes */
#define CONFIG_MAX_DEPTH 64             /* mappings and lists within each other */

/* input.index: where a run writes the access-point index of a gzip input it decodes. */
enum config_index {
    CONFIG_INDEX_CACHE = 0, /* the per-user cache (the default) */
    CONFIG_INDEX_BESIDE,    /* beside the file (to share it), else the cache */
    CONFIG_INDEX_OFF        /* no index read or written: always decoded as a stream */
};

struct job {
    char *file; /* the job file's path as given */

    /* The input files: resolved paths, in list order, each glob's matches sorted. At least one,
     * unless input_problem says why not. */
    char **inputs;
    size_t n_inputs;
    size_t *input_entry; /* per input, the entry of input_entries it comes from */
    struct config_input_entry *input_entries;
    size_t n_input_entries;
    /* An entry that could not be expanded (a glob that matches nothing): the message, as
     * "FILE:LINE:COLUMN: ...", which inputs_open() reports; NULL when none. config_load does
     * not fail for it, so that --input (config_set_input) can still replace the list. */
    char *input_problem;
    int allow_duplicates;          /* input.allow_duplicates: the same file may be listed twice */
    enum config_index input_index; /* input.index: where a gzip input's index is written */
    struct config_pos input_pos;
    struct framing framing; /* input.format, delimiter, quote, header; lines of '\n' by default */
    enum config_compression input_compression;

    char *output; /* resolved path, or "-" for standard output */
    struct config_pos output_pos;
    enum config_compression output_compression;
    struct config_pos output_compression_pos; /* 0:0 when not given */
    int output_level;                         /* 1-9, 0 when not given */
    int output_fsync;                         /* output.fsync: sync at the commit */

    int workers;             /* > 0; 0 means auto (online CPUs) */
    uint64_t partition_size; /* > 0; default CONFIG_DEFAULT_PARTITION_SIZE */
    char *log_dir;           /* resolved path, or NULL when not set */

    /* When a partition fails (P6). */
    int retries;                   /* retries: re-runs of a failed partition, >= 0 (default 0) */
    int on_error_skip;             /* on_error: skip (1) or fail (0, the default) */
    uint64_t max_skipped;          /* max_skipped: N (UINT64_MAX: no limit, the default) */
    double max_skipped_fraction;   /* max_skipped: a fraction of the records in (< 0: none) */
    uint64_t partition_timeout_ms; /* partition_timeout (0: none) */
    uint64_t record_timeout_ms;    /* record_timeout (0: none) */

    /* The steps, in order, and after them the `aggregate:` stage when there is one (its entry
     * has aggregate set): at least one in all. */
    struct config_step *steps;
    size_t n_steps;
    int aggregate;             /* the last entry of steps is the aggregate stage */
    uint64_t aggregate_memory; /* aggregate.memory: bytes; 0 when not given (the default) */
    struct config_pos aggregate_memory_pos;

    /* What the command line added to the job ("--set 2.fields=1,3", "--step cut (argument 2)"),
     * for messages: a config_pos with a negative line points here. */
    char **origins;
    size_t n_origins;
};

/* A --set or a --step of the command line, in the order given. */
struct config_arg {
    const char *text; /* what follows --set (KEY=VALUE) or --step (PLUGIN) */
    int argi;         /* the option's place on the command line (`tranche` is 0), for messages */
    size_t step;      /* a --set after the K-th --step (1-based): a KEY without a '.' is an option
                       * of that step; 0 otherwise */
};

/* The command line's part of a job. */
struct config_cli {
    const struct config_arg *sets; /* --set KEY=VALUE (KEY: a job key such as output.level, or
                                    * STEP.OPTION with STEP a step's number or plugin name) */
    size_t n_sets;
    /* Without a job file only: the job is made of these. */
    const struct config_arg *steps; /* --step PLUGIN */
    size_t n_steps;
    const char *input;  /* --input: input.path (needed) */
    const char *output; /* --output: output.path; standard output ("-") when NULL */
};

/* job->file of a job made from the command line alone. */
#define CONFIG_CLI_JOB "command-line job"

/*
 * Reads and checks the job file at `path`: at most CONFIG_MAX_FILE_SIZE bytes, nested at most
 * CONFIG_MAX_DEPTH deep. Relative paths in it (inputs, output, log_dir, plugin paths containing
 * '/') are resolved against the job file's directory. An input entry that exists as written is
 * that file; otherwise one with *, ? or [ is a glob(3) pattern (backslash escapes), expanded
 * (sorted); a glob that matches nothing is left in job->input_problem (see there), not failed
 * here. On failure returns -1 and err holds "PATH:LINE:COLUMN: message". On success *job is
 * filled and owned by the caller: release it with config_release(). `job` is written only on
 * success.
 */
int config_load(const char *path, struct job *job, struct error *err);

/*
 * config_load with the command line's part: each --set is applied to the job file's YAML document
 * before it is read, in order (the last of several for one key wins), so its value is parsed and
 * checked exactly as the file's would be, and messages about it name the --set instead of a file
 * position. VALUE is taken as a plain YAML scalar, whatever it holds, unless it begins with [ { "
 * or ', when it is a YAML flow value (a list such as [1,3], a quoted string). Relative paths
 * given on the command line are relative to the current directory. `path` NULL: no job file, the
 * job is cli->steps, cli->input and cli->output (job->file is CONFIG_CLI_JOB). cli NULL: as
 * config_load.
 */
int config_load_cli(const char *path, const struct config_cli *cli, struct job *job,
                    struct error *err);

/* Where pos is, for a message: "FILE:LINE:COLUMN", or the command-line argument it came from.
 * Returns buf. */
const char *config_where(const struct job *job, struct config_pos pos, char *buf, size_t size);

/* Rewrites every "FILE:-K:0" in err (a message built with a command-line position as a file
 * position, by loader.c say) into the argument it stands for. */
void config_explain(const struct job *job, struct error *err);

/* Frees what config_load allocated; safe on a zeroed struct, and leaves it zeroed. */
void config_release(struct job *job);

/*
 * Parses a size: a positive decimal integer of bytes, optionally followed by B, K/KB/KiB,
 * M/MB/MiB, G/GB/GiB or T/TB/TiB (all powers of 1024; an optional space before the unit).
 * Returns 0 and sets *out, or -1 on anything else (zero, negative, overflow, unknown unit).
 */
int config_parse_size(const char *text, uint64_t *out);

/* Parses a duration: a positive number (decimals allowed) followed by ms, s, m or h, or
 * alone (seconds): 10m, 1.5s, 250ms, 30. Returns 0 and sets *ms (at least 1), or -1. */
int config_parse_duration(const char *text, uint64_t *ms);

/* Parses `max_skipped`: a count (0, 1, ...) or a fraction of the records in, given as a number
 * below 1 with a point (0.01) or as a percentage (1%). Sets one of *count and *fraction (the
 * other to UINT64_MAX or -1). Returns 0 or -1. */
int config_parse_max_skipped(const char *text, uint64_t *count, double *fraction);

/* Parses `workers`: a positive integer or "auto" (gives 0). Returns 0 or -1. */
int config_parse_workers(const char *text, int *out);

/*
 * Replaces the input list (and any input_problem) by one entry, `path`, relative to the current
 * directory and expanded as config_load expands an entry. Returns 0, or -1 with err saying why
 * ("--input PATH: no file matches"), the job unchanged then.
 */
int config_set_input(struct job *job, const char *path, struct error *err);

#endif
