/*
 * core/chain.h: the step chain inside one worker: takes a partition's records from its source
 * (source.h), calls each step (a step's emit calls the next step directly), and collects what the
 * last step emits, each record followed by the delimiter, for the partition's sink. Also
 * implements the host function table plugins receive. Used by forked workers and, unchanged, by
 * the in-process mode.
 */
#ifndef TRANCHE_CHAIN_H
#define TRANCHE_CHAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "loader.h"
#include "plan.h"
#include "source.h"

/*
 * Where a worker is, kept in memory shared with the parent so that when a worker dies of a
 * signal the parent can still say which partition, step and record it was in.
 */
struct chain_progress {
    volatile int64_t partition;     /* -1 when between partitions */
    volatile int32_t step;          /* index of the step running now, -1 for none */
    volatile uint64_t record_start; /* input byte offset of the record being processed */
};

/* Steps past this many are counted together with the last one counted (partition_stats): what
 * the 16th says then is what the steps from there emitted together. */
#define CHAIN_STATS_STEPS 16

/* What one step did with one partition: records and bytes handed to it (record() calls), and
 * records and bytes it emitted (delimiters not counted). In probes, only what the probed record
 * gave. */
struct step_stats {
    uint64_t records_in, records_out;
    uint64_t bytes_in, bytes_out;
};

/* What one partition did, for the logs and the parent. */
struct partition_stats {
    uint64_t records_in;
    uint64_t records_out;
    uint64_t
        bytes_in; /* its records' bytes, each counted with a delimiter (even a last one without) */
    uint64_t bytes_out; /* delimiters included */
    uint64_t nanos;
    uint64_t skipped;       /* records left out (on_error: skip) */
    uint64_t skipped_unrun; /* of which, not run at all (they killed a worker before) */
    struct step_stats steps[CHAIN_STATS_STEPS];
};

/*
 * Where a partition's output goes. The chain collects output in a buffer of its own and offers
 * what it holds to drain() each time the buffer has grown by about 1 MiB since the last offer, and
 * once more at the end of the partition (last = 1). drain() takes a prefix of it (*taken bytes,
 * possibly none or all); the chain keeps the rest and offers it again, grown, later. It returns
 * 0, or -1 with err set, which fails the partition as an I/O failure. What is left after the
 * last offer stays readable through chain_pending() until the next chain_run().
 */
struct chain_sink {
    int (*drain)(void *arg, const char *data, size_t len, int last, size_t *taken,
                 struct error *err);
    void *arg;
};

struct chain;

/*
 * Calls init() of every step, in order (after fork, in a worker). `steps` is borrowed and must
 * outlive the chain; `log_fd` receives plugin log lines (may be -1); `progress` may be NULL.
 * On failure *failed_step is the index of the step whose init failed, or -1 when the message
 * already names its place (see chain_check).
 */
int chain_new(const struct step *steps, size_t n_steps, const struct framing *fr, int worker_id,
              int log_fd, struct chain_progress *progress, struct chain **out, int *failed_step,
              struct error *err);

/*
 * The parent's option check: init() of every step (host->is_option_check() is 1 there), then
 * fini(), with no records. On failure *failed_step is the step's index, or -1 when the message
 * already names its place (a value an option_error() rejected: FILE:LINE:COL and the step).
 */
int chain_check(const struct step *steps, size_t n_steps, const struct framing *fr,
                struct chain_progress *progress, int *failed_step, struct error *err);

/*
 * Runs one partition: calls begin_partition() of each step (last to first), reads
 * [p->start, p->end) of the input (plain, or decoding its BGZF blocks, or decoding from its access
 * points; or takes it from memory), feeds every record through the steps, calls end_partition()
 * of each step (first to last), and hands the output to `sink`. On failure returns
 * -1, err holds the message (a plugin's, or the I/O error), and *failed_step is the step's index
 * or -1 when the failure was reading or writing.
 */
int chain_run(struct chain *c, const struct partition *p, const struct source_input *in,
              const struct chain_sink *sink, struct partition_stats *stats, int *failed_step,
              struct error *err);

/*
 * chain_run in pieces, for a caller that reads the records itself (tranche filter: standard
 * input, cut as it comes): chain_begin starts partition p (begin_partition of each step, the
 * header row for partition 0), chain_put hands one record to step 0 with its input offset
 * (data[0, len] writable, data[len] == '\0', as plugins get it), chain_put_malformed gives
 * malformed bytes (left out under on_error: skip, else a failure naming in->input's path and the
 * offset), chain_flush offers what the chain holds to the sink now (between records), and chain_end
 * ends the partition (end_partition of each step when ok, the last offer) and says how it went, as
 * chain_run does. Each of begin, put, put_malformed and flush returns 0, or -1 when the partition
 * failed: call chain_end(c, 0, ...) then, for the message. p and in must outlive chain_end.
 */
int chain_begin(struct chain *c, const struct partition *p, const struct source_input *in,
                const struct chain_sink *sink);
int chain_put(struct chain *c, char *data, size_t len, uint64_t offset);
int chain_put_malformed(struct chain *c, const char *data, size_t len, uint64_t offset,
                        const char *why);
int chain_flush(struct chain *c);
int chain_end(struct chain *c, int ok, struct partition_stats *stats, int *failed_step,
              struct error *err);

/* A record left out of the output (on_error: skip), as chain_skip's reject() gets it. */
struct chain_reject {
    uint64_t offset;    /* where the record starts in its input (decompressed) */
    const char *data;   /* its bytes as read, before any step changed them (borrowed) */
    size_t len;         /* without the delimiter */
    int step;           /* the step that failed on it, or -1 when not known */
    const char *reason; /* one line */
};

/*
 * How a partition treats records that fail, for chain_run (all borrowed, for the next runs):
 *   - on_error_skip: a record on which a step returns an error is left out: what the steps
 *     emitted for it is taken back, reject() is called, the partition goes on. (Output is then
 *     offered to the sink only between records.) Otherwise the partition fails, as always;
 *   - skip[0, n_skip): records (by input offset, ascending) not run at all, but given to
 *     reject() with their step and reason: those that killed a worker (the scheduler found
 *     them, and confirmed each by running it alone);
 *   - only >= 0: a probe: only the record starting at this offset is run, and nothing of it
 *     reaches the sink.
 * reject() returns 0, or -1 to fail the partition (its err set: an I/O error).
 */
struct chain_skip_entry {
    uint64_t offset;
    int step;
    const char *reason;
};

struct chain_skip {
    int on_error_skip;
    const struct chain_skip_entry *skip;
    size_t n_skip;
    int64_t only;
    int (*reject)(void *arg, const struct chain_reject *rej, struct error *err);
    void *arg;
};

/*
 * For built-in steps that fail over a whole partition rather than a record (the exec step,
 * exec.c), and then want to leave out only the records at fault under on_error: skip:
 * chain_ctx_skipping says whether this partition run leaves out failing records; a mark notes
 * where the output stands, chain_ctx_take_back drops what was emitted after it (and clears the
 * failure, if one was noted); chain_ctx_reject leaves out one record of the partition (reject()
 * gets it with this step and `why`), as a failing record is left out. Valid in record(),
 * begin_partition() and end_partition().
 */
struct chain_mark {
    size_t out_len;
    uint64_t records_out, bytes_out;
};
struct tranche_ctx;
int chain_ctx_skipping(struct tranche_ctx *ctx);
void chain_ctx_mark(struct tranche_ctx *ctx, struct chain_mark *m);
void chain_ctx_take_back(struct tranche_ctx *ctx, const struct chain_mark *m);
int chain_ctx_reject(struct tranche_ctx *ctx, uint64_t offset, const char *data, size_t len,
                     const char *why);

/* Sets (or, with NULL, clears) how the next chain_run treats failing records. */
void chain_set_skip(struct chain *c, const struct chain_skip *skip);

/* The output the sink did not take at the end of the last partition run. */
void chain_pending(const struct chain *c, const char **data, size_t *len);

/* Makes chain_run give up (as a failure, "interrupted") once *stop is non-zero; it is checked
 * between read buffers. `stop` is borrowed; NULL turns the check off. */
void chain_set_stop(struct chain *c, const volatile sig_atomic_t *stop);

/*
 * Aggregation (tranche/plugin.h, ABI 1.2). The last step is then the aggregate stage.
 * chain_set_framed: the chain's output records are partials for the combine phase, each written
 * as a CHAIN_FRAME_HEADER-byte little-endian length and its bytes (no delimiter), so that a
 * partial may hold any byte.
 */
#define CHAIN_FRAME_HEADER 4
void chain_set_framed(struct chain *c, int framed);

/* Where host->temp_dir() makes this process's directory, DIR/tmp-PID (removed with the chain
 * that made it), for every chain of this process and of those it forks: set before they start;
 * NULL (the start): temp_dir() gives NULL. `dir` is borrowed. */
void chain_set_temp_base(const char *dir);

/* The combine phase's chain: init() of the aggregate stage (the last of steps[0, n_steps)) alone,
 * host->phase() saying TRANCHE_PHASE_COMBINE; with a header row, the steps before it start and
 * finish once, for the header as it reaches the aggregator. On failure err names the step. */
int chain_new_combine(const struct step *steps, size_t n_steps, const struct framing *fr,
                      int log_fd, struct chain **out, struct error *err);

/* Reads the framed partials from fd (its offset on) to the end, gives each to combine(), then
 * calls combine_end(), and hands what they emitted (each record followed by the delimiter) to
 * `sink`. Gives up once *stop is non-zero (NULL: never). *stats: records_in and bytes_in the
 * partials read, records_out and bytes_out what was emitted. Returns 0, or -1 with err set. */
int chain_combine(struct chain *c, int fd, const struct chain_sink *sink,
                  const volatile sig_atomic_t *stop, struct partition_stats *stats,
                  struct error *err);

/* Removes a directory host->temp_dir() made: the files in it (one level), then itself. */
void chain_remove_temp_dir(const char *dir);

/* Calls fini() of every step whose init() succeeded, then frees the chain. NULL is a no-op.
 * For the end of a chain that may still fail, use chain_finish. */
void chain_free(struct chain *c);

/* chain_free, after which a fini() that broke the contract (it emitted) fails: returns -1 with
 * *failed_step and err saying which. The chain is freed either way. */
int chain_finish(struct chain *c, int *failed_step, struct error *err);

#endif
