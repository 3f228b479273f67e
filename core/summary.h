/*
 * core/summary.h: summary.json read back (the file runstats writes at the end of a run; the structs
 * below name its fields), for `tranche report`. JSON is read with libyaml: a JSON document
 * is YAML flow syntax. Keys the reader does not know are ignored and missing ones stay zero (or
 * NULL, or NaN for a time), so a summary from a newer or older tranche still reads.
 */
#ifndef TRANCHE_SUMMARY_H
#define TRANCHE_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Times are seconds from the run's start; NaN where the summary has null (a partition that
 * never ran, or was resumed) or nothing. Strings are malloc'd, NULL where null or missing. */
struct summary_input {
    char *path;
    char *kind; /* plain, bgzf, gzip-indexed, gzip-stream, stdin */
    uint64_t size;
};

struct summary_step {
    char *label;
    uint64_t records_in, records_out, bytes_in, bytes_out;
};

struct summary_retry {
    int64_t partition, attempt, worker;
    double at_s;
    char *reason;
};

struct summary_partition {
    int64_t index, input, worker, attempts; /* worker 0: it never ran in a worker */
    uint64_t start, end;                    /* its byte range in its input */
    int resumed;                            /* kept from an earlier run (--resume) */
    double start_s, done_s, written_s;
    uint64_t records_in, records_out, bytes_in, bytes_out, skipped;
};

struct summary_worker {
    int64_t id, processes, partitions;
    double busy_s, cpu_user_s, cpu_system_s;
    uint64_t max_rss_kib;
};

struct summary_totals {
    uint64_t partitions, partitions_written, partitions_resumed, retries, skipped;
    uint64_t records_in, records_out, bytes_in, bytes_out;
};

struct summary_rejects {
    uint64_t count;
    char *tsv, *bin; /* paths, NULL when nothing was skipped */
};

struct summary {
    char *tranche, *job, *log_dir, *output, *status, *error, *started_at;
    int64_t exit_status, n_workers;
    double wall_s, cpu_user_s, cpu_system_s;
    int incomplete;
    struct summary_totals totals;
    struct summary_rejects rejects;
    struct summary_input *inputs;
    size_t n_inputs;
    struct summary_step *steps;
    size_t n_steps;
    struct summary_retry *retries;
    size_t n_retries;
    struct summary_partition *partitions;
    size_t n_partitions;
    struct summary_worker *workers;
    size_t n_workers_listed;
};

/*
 * Reads the summary.json at `path` into *s (which the caller owns; release it with
 * summary_release). A file that cannot be read, that is not JSON (or YAML) or whose values have
 * the wrong type is ERR_INVALID, the message naming the file and, for its contents, the
 * line:column. *s is set only on success.
 */
int summary_load(const char *path, struct summary *s, struct error *err);

/* Frees what *s holds and zeroes it. Safe on a zeroed struct, and to repeat. */
void summary_release(struct summary *s);

#endif
