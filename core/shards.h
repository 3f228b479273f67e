/*
 * core/shards.h: a job cut into N shards that run apart (as the tasks of a Slurm job array, say)
 * and a merge of what they wrote, byte-identical to one local run of the job.
 *
 * The units of a job are the partitions of its plan (inputs_plan: plain files at record
 * boundaries, BGZF at block runs, indexed gzip at access points) and, for each gzip input without
 * an index, the whole input (a stream cannot be entered in the middle). A shard is a run of
 * consecutive units, in input order, of about total/N bytes (a stream counts its compressed
 * size). The work directory D holds
 *   shards.plan   text, written by `tranche plan --shards N`: a version line, the job (its file's
 *                 absolute path and resume_job_digest), the output path and gzip level, the
 *                 number of units and a digest of their ranges, N, each input's identity (size,
 *                 mtime in ns, CRC-32 of up to 64 KiB at its start, middle and end, path), then one
 *                 line per shard (its units, its inputs, its bytes);
 *   part-I        the output of shard I, committed atomically (output.h) by `tranche run --shard`;
 *                 gzip output is BGZF blocks, without the end-of-file block but in the last part;
 *                 for a job with an aggregate stage (the plan says "parts partials"), the framed
 *                 partials of the shard's partitions, in order (aggregate.h), plain: the merge
 *                 reads those of every part, in order, into the combine phase;
 *   part-I.sum    written after part-I: its size and CRC-32, the digest of the shards.plan it was
 *                 made for, its index. A part without it, or that disagrees with it, is damaged.
 * A shard's run plans the job again, checks that the plan and the inputs are what shards.plan
 * says, and runs only its units: its partitions are numbered from its first unit (plan.h), so
 * that record_info's partition and the header row are as in a local run (after a gzip input
 * without an index, record_info's partition numbers differ: the stream counts as one unit).
 */
#ifndef TRANCHE_SHARDS_H
#define TRANCHE_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "input.h"
#include "plan.h"
#include "planner.h"

#define SHARDS_PLAN_NAME "shards.plan"

/* An input as the plan saw it. */
struct shard_input {
    char *path;
    uint64_t size;
    int64_t mtime_ns;
    uint32_t crc[3]; /* CRC-32 of up to 64 KiB at the start, the middle, the end */
};

struct shard {
    size_t first, end;           /* its units [first, end) */
    size_t first_file, end_file; /* the inputs they are in [first_file, end_file) */
    uint64_t bytes;
};

struct shard_plan {
    char *dir; /* the work directory */
    char *job_path;
    uint64_t config;  /* resume_job_digest of the job, its output as the job says */
    char *output;     /* the job's output, absolute (merge's default) */
    int gzip_level;   /* 0: plain output */
    int partials;     /* the job has an aggregate stage: the parts hold its partials, and the
                       * merge runs the combine phase over them (aggregate_merge) */
    uint64_t combine; /* with partials: shards_combine_digest of the job */
    size_t n_units;
    uint64_t units_digest;
    struct shard_input *inputs;
    size_t n_inputs;
    struct shard *shards;
    size_t n;
    uint64_t digest; /* of shards.plan's text: what each part.sum names */
};

/*
 * Cuts the job (its inputs opened, `plan` their partitions but the streams') into n shards
 * and reads the inputs' identity. `config` is resume_job_digest(job) before any change of the
 * output. Returns 0, ERR_INVALID (n is 0 or more than the units, naming both; an input is
 * standard input) or ERR_FAILED (an input cannot be read). Release *sp with shards_release.
 */
int shards_make(const struct job *job, const struct inputs *in, const struct plan *plan, size_t n,
                uint64_t config, int gzip_level, struct shard_plan *sp, struct error *err);

/* What the merge of a job with an aggregate stage checks before it runs the combine phase of the
 * job loaded again from its file: a digest of its steps (each plugin's name without a directory,
 * its options) and its input format. Unlike resume_job_digest, it does not depend on where the
 * job file was named from (relative paths in the job are resolved against that). */
uint64_t shards_combine_digest(const struct job *job);

/* Writes dir/shards.plan (made like mkdir -p; atomically, replacing it) and sets sp->dir and
 * sp->digest. Parts made for an earlier plan stay, and are stale (their .sum names it). */
int shards_write(struct shard_plan *sp, const char *dir, struct error *err);

/* Prints the shards as a table (index, units, inputs and byte ranges, bytes) on stdout. */
void shards_print(const struct shard_plan *sp, const struct inputs *in, const struct plan *plan);

/* Reads dir/shards.plan. ERR_INVALID when it is missing or malformed (err says which). */
int shards_read(const char *dir, struct shard_plan *sp, struct error *err);

/* Frees what sp holds; safe on a zeroed one, and leaves it zeroed. */
void shards_release(struct shard_plan *sp);

/* Checks each input's identity against the plan's (by path). ERR_INVALID naming the first
 * input changed or missing since the plan. */
int shards_check_inputs(const struct shard_plan *sp, struct error *err);

/*
 * For shard `index`'s run: checks that the job is the plan's (its digest, the input list, the
 * inputs' identity, the units of its plan), then puts the shard's partitions in *out (zeroed on
 * entry) and its inputs in *w. ERR_INVALID with err saying what differs.
 */
int shards_select(const struct shard_plan *sp, size_t index, const struct job *job, uint64_t config,
                  const struct inputs *in, const struct plan *plan, struct plan *out,
                  struct planner_window *w, struct error *err);

/* --shard auto: the shard index from the scheduler's environment (SLURM_ARRAY_TASK_ID, else
 * AWS_BATCH_JOB_ARRAY_INDEX, else BATCH_TASK_INDEX, else JOB_COMPLETION_INDEX), checked against
 * n. ERR_INVALID when none is set or it does not fit. */
int shards_auto_index(size_t n, size_t *index, struct error *err);

/* "DIR/part-I" (malloc'd; NULL when out of memory). */
char *shards_part_path(const char *dir, size_t index);

/* Removes part-I.sum (before the shard runs again: its part is not done until the new one). */
int shards_forget(const struct shard_plan *sp, size_t index, struct error *err);

/* After part-I was committed: reads it back and writes part-I.sum (atomically). */
int shards_seal(const struct shard_plan *sp, size_t index, struct error *err);

enum shard_state { SHARD_DONE, SHARD_MISSING, SHARD_DAMAGED };

/* The state of shard `index`'s part; why (size bytes) says what is wrong when it is not done.
 * With read_crc, the part is read and its CRC-32 checked too (else its size and its .sum's plan
 * digest only). */
enum shard_state shards_state(const struct shard_plan *sp, size_t index, int read_crc, char *why,
                              size_t size);

/* Checks the inputs against the plan and every part (size, CRC-32, plan digest): each part not
 * done is said on stderr, and the first one is named in err (ERR_FAILED). */
int shards_check_parts(const struct shard_plan *sp, struct error *err);

/* shards_check_parts, then concatenates them into `out` ("-": standard output) with an atomic
 * commit (copy_file_range where the file systems allow it). */
int shards_merge(const struct shard_plan *sp, const char *out, int fsync_out, struct error *err);

#endif
