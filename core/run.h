/*
 * core/run.h: running a planned job, start to commit. Opens the job's log and its temporary
 * output, catches the stop signals, starts the planner, then runs the partitions with the
 * forked worker pool (scheduler.h) or, for debuggers, in this process (inprocess.c); on success
 * ends gzip output with BGZF's end-of-file block and commits the output. On any failure nothing
 * is left at the output path (unless it is "-"), and no part file or process remains; the
 * partitions written so far are kept beside it for --resume (resume.h).
 */
#ifndef TRANCHE_RUN_H
#define TRANCHE_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "input.h"
#include "loader.h"
#include "output.h"
#include "plan.h"
#include "planner.h"
#include "repro.h"
#include "resume.h"
#include "runstats.h"
#include "source.h"

struct run_options {
    int workers;          /* > 0 */
    const char *log_dir;  /* where tranche.log and worker-N.log go */
    int in_process;       /* run every partition in this process, no fork */
    long only_partition;  /* >= 0: run just this partition (in-process); -1: all */
    int gzip_level;       /* 1-9: write the output as BGZF (gzip) at this level; 0: plain */
    int fsync;            /* sync the output and its directory at the commit (--fsync) */
    const size_t *replay; /* n_replay > 0: run just these partitions, in this order, in-process */
    size_t n_replay;
    struct repro *repro;      /* the command line: a failed worker's reproduce line goes to
                               * repro->line (repro.h); NULL: none */
    int progress;             /* draw a progress line on standard error (a terminal, no --quiet) */
    int summary_line;         /* print the one-line summary on stderr at the end of a job that
                               * succeeded (no --quiet) */
    const char *summary_json; /* --summary-json FILE: a copy of summary.json; NULL: none */
    int resume;               /* --resume: go on from what an interrupted run left (resume.h) */
    /* A shard's run (shards.h): only these inputs and partitions (`plan` holds only the shard's),
     * never resumed (a shard is run again whole); NULL for the whole job. */
    const struct planner_window *window;
    int gzip_no_eof;  /* gzip output without BGZF's end-of-file block (a shard's part but the
                       * last: the merge concatenates the parts) */
    int partials_out; /* a shard's run of a job with an aggregate stage: the output is the map
                       * phase's framed partials, plain, and there is no combine phase (the
                       * merge runs it, aggregate_merge) */
};

/* Whether the partitions run in this process (--in-process, --partition K, --replay LIST). */
int run_in_this_process(const struct run_options *opt);

/* A job being run: what the scheduler, its workers (a copy, from fork) and the in-process mode
 * share. */
struct run {
    const struct job *job;
    const struct step *steps; /* loaded, not initialized: init runs where the chain runs */
    const struct inputs *inputs;
    const struct run_options *opt;
    struct output output;
    struct planner planner;
    int log_fd; /* tranche.log */
    uint64_t records_in, records_out;
    uint64_t skipped;       /* records left out (on_error: skip) */
    struct resume *resume;  /* the work directory this run keeps or resumes (NULL: none) */
    size_t written;         /* partitions written to the output when the scheduler stopped */
    uint64_t written_bytes; /* and their output's length */
    uint64_t *out_end;      /* per partition written: where its output ends (for resume.h) */
    size_t cap_out_end;
    struct runstats *stats; /* what the run did (runstats.h) */
    int framed;             /* the output is the aggregate stage's framed partials (aggregate.h) */
};

/*
 * Runs the job. `plan` holds the partitions of every input but the streams, whose partitions are
 * cut as the parent decodes them; they are numbered in input order all the same. Returns 0 when
 * every partition succeeded and the output is in place; ERR_INVALID when set-up failed (logs,
 * output, memory: nothing ran); ERR_PIPE when standard output's reader went away; ERR_FAILED when
 * the job failed, with err naming the partition, byte range, step, what happened and the worker's
 * log. Once the log is open, what the run did is written to LOG_DIR/summary.json whatever the
 * result (runstats_finish), and with opt->summary_line a success is said in one line on stderr.
 */
int run_job(const struct job *job, const struct step *steps, const struct plan *plan,
            const struct inputs *inputs, const struct run_options *opt, struct error *err);

/* Whether the stack limit lets a chain of n_steps steps use the stack each may (tranche/plugin.h);
 * ERR_INVALID with err saying so when the hard limit is too low. */
int run_check_stack(size_t n_steps, struct error *err);

/*
 * Moves the output's descriptor above 2, so that nothing a plugin prints can reach it: workers
 * point their stdout at their log, and for an output on standard output the in-process mode
 * points stdout at stderr for the run. *saved_stdout is set (and restored by the caller) then.
 */
int run_keep_output_off_stdio(struct output *o, int *saved_stdout, struct error *err);

/* Where partition p's bytes come from. */
void run_source_input(const struct run *r, const struct partition *p, struct source_input *in);

/* "partition 3 (bytes 100-200 of FILE)", for messages. */
void run_describe_partition(const struct run *r, const struct partition *p, char *buf, size_t size);

/* The in-process mode (inprocess.c): every partition (or only `only`, when >= 0; or those of
 * r->opt->replay, in that order) one after another in this process, straight into the output,
 * one chain (init once, fini at the end) for them all; a stream is decoded as they run. Returns
 * 0, ERR_INVALID when the job has no partition `only` (or one of the list), or ERR_FAILED. */
int inprocess_run(struct run *r, long only, struct error *err);

#endif
