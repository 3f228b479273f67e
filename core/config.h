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

/* A position in the job file, 1-based (libyaml's marks are 0-based); 0: not from the file. */
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
    char **items;                /* the scalar(s), as text */
    struct config_pos *item_pos; /* one per item */
    size_t n_items;
};

struct config_step {
    char *plugin; /* a bundled name, or a path if it contains '/' (resolved against the job dir) */
    struct config_pos pos; /* of the step's mapping (the `- plugin:` line) */
    struct config_option *options;
    size_t n_options;
};

#define CONFIG_DEFAULT_PARTITION_SIZE (32ull << 20)

/* input.compression / output.compression. */
enum config_compression {
    CONFIG_COMPRESSION_AUTO = 0, /* input: by the gzip magic bytes; output: by a .gz name */
    CONFIG_COMPRESSION_NONE,
    CONFIG_COMPRESSION_GZIP
};

struct job {
    char *file; /* the job file's path as given */

    char **inputs; /* resolved paths, in list order / sorted glob order, at least one */
    size_t n_inputs;
    struct config_pos input_pos;
    unsigned char delimiter; /* default '\n' */
    enum config_compression input_compression;

    char *output; /* resolved path, or "-" for standard output */
    struct config_pos output_pos;
    enum config_compression output_compression;
    struct config_pos output_compression_pos; /* 0:0 when not given */
    int output_level;                         /* 1-9, 0 when not given */

    int workers;             /* > 0; 0 means auto (online CPUs) */
    uint64_t partition_size; /* > 0; default CONFIG_DEFAULT_PARTITION_SIZE */
    char *log_dir;           /* resolved path, or NULL when not set */

    struct config_step *steps; /* at least one */
    size_t n_steps;
};

/*
 * Reads and checks the job file at `path`. Relative paths in it (inputs, output, log_dir, plugin
 * paths containing '/') are resolved against the job file's directory; globs in input paths are
 * expanded (sorted) and must match at least one file. On failure returns -1 and err holds
 * "PATH:LINE:COLUMN: message". On success *job is filled and owned by the caller: release it
 * with config_release(). `job` is written only on success.
 */
int config_load(const char *path, struct job *job, struct error *err);

/* Frees what config_load allocated; safe on a zeroed struct, and leaves it zeroed. */
void config_release(struct job *job);

/*
 * Parses a size: a positive decimal integer of bytes, optionally followed by B, K/KB/KiB,
 * M/MB/MiB, G/GB/GiB or T/TB/TiB (all powers of 1024; an optional space before the unit).
 * Returns 0 and sets *out, or -1 on anything else (zero, negative, overflow, unknown unit).
 */
int config_parse_size(const char *text, uint64_t *out);

/* Parses a delimiter: one byte, or one of the escapes \n \t \r \0 \\ . Returns 0 or -1. */
int config_parse_delimiter(const char *text, unsigned char *out);

/* Parses `workers`: a positive integer or "auto" (gives 0). Returns 0 or -1. */
int config_parse_workers(const char *text, int *out);

/* Replaces the input list by one path (resolved against the current directory, glob expanded). */
int config_set_input(struct job *job, const char *path, struct error *err);

#endif
