/*
 * core/aggregate.h: a job's aggregate stage (tranche/plugin.h, ABI 1.2) as the runner sees it.
 * While the partitions run, the workers' output is not the job's output but the aggregator's
 * partial records, length-framed (chain.h), written in input order into a file of a private
 * directory beside the output; then the combine phase, in a process of its own (or in this one
 * with --in-process), reads them back into the aggregator's combine() and writes what its
 * combine_end() emits to the job's output. The directory is also where aggregators spill
 * (host->temp_dir()); nothing of it is left once the job ends, whatever the result.
 *
 * With --partition K or --replay, there is no combine phase: the output is the partitions'
 * partials, delimited like any output, and the runner says so on standard error.
 */
#ifndef TRANCHE_AGGREGATE_H
#define TRANCHE_AGGREGATE_H

#include "error.h"
#include "parts.h"
#include "run.h"

struct aggregate {
    struct parts dir;              /* the private directory: part 0 holds the partials */
    int partials_fd;               /* -1: none */
    int output_fd;                 /* the job's output, while the workers write the partials */
    struct run_options map_opt;    /* the run's options for the map phase: plain partials */
    const struct run_options *opt; /* the run's own */
};

/* Whether the run combines: an aggregate stage, and every partition run (not --partition K or
 * --replay, whose output is the partials themselves). */
int aggregate_combines(const struct run *r);

/* Before the partitions run: makes the directory (chain_set_temp_base) and, when the run combines,
 * the partials file, and points the run's output at it (r->output.fd, r->opt with plain output,
 * r->framed). */
int aggregate_start(struct run *r, struct aggregate *a, struct error *err);

/* After the partitions ran, whatever the result: the run's output is the job's output again. */
void aggregate_end_map(struct run *r, struct aggregate *a);

/* The combine phase: the partials into the job's output. Returns 0, ERR_PIPE when standard
 * output's reader went away, or ERR_FAILED with err naming the step and what happened. */
int aggregate_combine(struct run *r, struct aggregate *a, struct error *err);

/*
 * `tranche merge` of a job with an aggregate stage (shards.h): the shards' parts, which hold the
 * framed partials of their partitions in order, are put together in the private directory
 * beside `out` and go through the combine phase, as aggregate_combine runs it, into `out`
 * (gzip_level > 0: BGZF with its end-of-file block), committed atomically (fsync: durably).
 * The job's framing has its header row when it has one (inputs_read_header). Returns 0,
 * ERR_INVALID (the output is refused), ERR_PIPE, or ERR_FAILED with err saying why.
 */
int aggregate_merge(const struct job *job, const struct step *steps, char *const *parts,
                    size_t n_parts, const char *out, int gzip_level, int fsync, int log_fd,
                    struct error *err);

/* Removes the directory and what is in it (the spill directories of every process too). Safe on
 * a zeroed or released struct. */
void aggregate_release(struct aggregate *a);

#endif
