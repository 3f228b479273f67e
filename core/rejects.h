/*
 * core/rejects.h: the records a job left out (on_error: skip), for their owner to look at and
 * replay. In the run's log directory:
 *   rejects.tsv  a header line, then one line per record in input order:
 *                INPUT <TAB> OFFSET <TAB> LENGTH <TAB> PARTITION <TAB> STEP <TAB> REASON
 *                (tabs, CR and LF inside the path or the reason become spaces);
 *   rejects.bin  the records' bytes as read, each followed by the job's delimiter, in the same
 *                order: `tranche run --input rejects.bin` replays them.
 * Workers write each partition's rejects to files of their own (rejects.parts/K.tsv and .bin, made
 * when the first record is left out, and truncated by a new attempt), so that nothing is shared
 * between processes and a failed attempt leaves nothing; the parent puts them together, in
 * partition order, at the end of the run, and removes rejects.parts.
 */
#ifndef TRANCHE_REJECTS_H
#define TRANCHE_REJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "error.h"
#include "loader.h"

/* One process's writer of one partition's rejects at a time. */
struct rejects {
    const char *log_dir; /* borrowed */
    size_t partition;
    const char *input_path;   /* borrowed: the partition's input, as the job names it */
    const struct step *steps; /* borrowed: for the steps' labels */
    size_t n_steps;
    const struct framing *fr;
    int tsv_fd, bin_fd; /* -1 until the partition's first reject */
};

/* The parent, before the run: removes an earlier run's rejects.tsv, rejects.bin and
 * rejects.parts (a log_dir that is reused), and makes rejects.parts. */
int rejects_prepare(const char *log_dir, struct error *err);

/* Starts partition k's rejects (nothing is made until the first). The strings are borrowed. */
void rejects_begin(struct rejects *rj, const char *log_dir, size_t k, const char *input_path,
                   const struct step *steps, size_t n_steps, const struct framing *fr);

/* A chain_skip reject() (arg: struct rejects): appends the record to the partition's files. */
int rejects_put(void *arg, const struct chain_reject *rej, struct error *err);

/* Ends the partition's rejects: closes its files (an error there fails the partition). */
int rejects_end(struct rejects *rj, struct error *err);

/* Removes partition k's files (the parent, before an attempt runs again). */
void rejects_forget(const char *log_dir, size_t k);

/* The parent, at the end: puts the partitions' files together into rejects.tsv and rejects.bin
 * (none when no record was left out), removes rejects.parts, and sets *count to the records.
 * Returns 0 or -1 (err names the file). */
int rejects_collect(const char *log_dir, uint64_t *count, struct error *err);

#endif
