/*
 * core/resume.h: what an interrupted or failed run leaves for `tranche run --resume`: the work
 * directory OUTPUT.tranche-work beside the output, holding
 *   output.partial  the output of the partitions written, in order (the first `done` of the
 *                   plan, `out_len` bytes: what the next partition's output follows);
 *   manifest        text: the job's identity (a digest of its steps, options, delimiter,
 *                   partition size, output format and inputs; each plugin's file, size and
 *                   mtime; each input's path, size, mtime and how it is read; the workers when
 *                   an input is cut as it is decoded), then `done N OUT_LEN`, then one
 *                   `part` line per partition done (its input range, its counts, where its
 *                   output ends in output.partial and that output's CRC-32).
 * It is written when a run that wrote at least one partition stops on a failure or a stop
 * signal, and removed when a run succeeds (or starts afresh). A resumed run checks the identity
 * line by line (a changed job, plugin or input is refused, saying what changed), the partial
 * output's length and each partition's CRC-32 in it, and that its own plan begins with the same
 * partitions; it then
 * runs only the rest, appending to the partial output, so the output is byte-identical to that
 * of an uninterrupted run.
 */
#ifndef TRANCHE_RESUME_H
#define TRANCHE_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "input.h"
#include "loader.h"

/* A partition done by the run being resumed. */
struct resume_part {
    size_t file;
    uint64_t start, end;
    uint64_t records_in, records_out, bytes_in, bytes_out, skipped;
    uint64_t out_end; /* where its output ends in output.partial (the next one's begins) */
    uint32_t crc;     /* CRC-32 of its output there (set by resume_save and resume_load) */
};

struct resume {
    char *dir;      /* OUTPUT.tranche-work */
    char *identity; /* the manifest's identity lines, for this job as it is now */
    /* What the work directory holds (resume_load), or what to save (resume_save). */
    size_t done;
    uint64_t out_len;
    struct resume_part *parts; /* done of them */
    size_t cap_parts;
    int taken; /* resume_take_partial moved output.partial into this run's output */
};

/* Whether a job can be resumed: its output is a file (not "-", a device or a FIFO) and it does
 * not read standard input. */
int resume_possible(const struct job *job, const struct inputs *inputs);

/* A digest (FNV-1a, 64 bits) of what decides the job's output apart from the plugins' and the
 * inputs' files: steps and options, format, partition size, on_error, output path and format,
 * input list. Also the shard plan's (shards.h). */
uint64_t resume_job_digest(const struct job *job);

/* Parts of that digest, which the shard plan's digest of a job's steps shares: a step's options
 * (names and values, in order), and the input format (format, delimiter, quote, header). */
uint64_t resume_digest_options(uint64_t h, const struct config_step *st);
uint64_t resume_digest_format(uint64_t h, const struct framing *fr);

/* Prepares rs for `job` (its work directory's path and identity). 0, or -1 out of memory. */
int resume_init(struct resume *rs, const struct job *job, const struct step *steps,
                const struct inputs *inputs, int workers, struct error *err);
void resume_release(struct resume *rs);

/* Reads the work directory: checks the identity, and that output.partial has out_len bytes,
 * each partition's with the CRC-32 the manifest says. Returns 0 (rs->done, out_len and parts set),
 * or ERR_INVALID with err saying what is missing or changed. */
int resume_load(struct resume *rs, struct error *err);

/* Notes partition k (the next one: k == rs->done) as done. 0, or -1 out of memory. */
int resume_note(struct resume *rs, const struct resume_part *p);

/* Saves the work directory: moves the file at `partial` (the temporary output, cut to
 * rs->out_len bytes) into it as output.partial, and writes the manifest. Returns 0 or -1. */
int resume_save(struct resume *rs, const char *partial, struct error *err);

/* Moves output.partial to `path` (the run's temporary output, replacing it); sets rs->taken.
 * 0 or -1. */
int resume_take_partial(struct resume *rs, const char *path, struct error *err);

/* Removes the work directory and what it holds, if it exists. */
void resume_remove(const struct resume *rs);

/* Whether the work directory exists. */
int resume_exists(const struct resume *rs);

#endif
