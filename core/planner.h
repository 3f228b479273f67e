/*
 * core/planner.h: the plan as the job runs. The partitions of plain, BGZF and indexed gzip inputs
 * are known before the job starts (inputs_plan); those of a stream are cut as the parent decodes
 * it into the ring (stream.h). The planner hands both out in output order, numbering them in input
 * order, and frees the ring behind partitions that no worker reads any more. Parent only; a
 * worker reads the partitions it is given, and the ring, which is shared.
 */
#ifndef TRANCHE_PLANNER_H
#define TRANCHE_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "input.h"
#include "plan.h"

struct stream;

/* The inputs a run plans: [first_file, end_file) of the job's, its partitions numbered from
 * first_number (a shard's run, shards.h); the whole job is {0, inputs->n, 0}. */
struct planner_window {
    size_t first_file, end_file;
    size_t first_number;
};

/* Decode about this much of a stream between looks at the workers. */
#define PLANNER_DECODE_BUDGET (1u << 20)

struct planner {
    struct plan live; /* the partitions known so far, in output order */
    int planned_all;  /* every partition of every input is in `live` */
    int stream_full;  /* the ring is full: decode again once partitions are released */
    int refused;      /* planner_more failed because the job's partition_size cuts too many */

    /* private */
    const struct job *job;
    const struct inputs *inputs;
    const struct plan *fixed; /* every input's partitions but the streams' */
    size_t fixed_next;        /* the next partition of `fixed` to take */
    size_t plan_file;         /* the next input to plan */
    size_t end_file;          /* the input after the last to plan */
    struct stream *stream;    /* the ring streams are decoded into; NULL without streams */
    int stream_active;        /* input plan_file is being decoded */
    int stream_fd;            /* open on it; -1 */
    uint64_t stream_target;   /* partition size for streams: several fit in the ring */
    size_t release_next;      /* the first partition whose input may still be in use */
    int log_fd;
};

/*
 * Maps the ring when an input is a stream (before fork: it is shared), sized for `slots`
 * partitions in flight, and plans up to the first stream (decoding nothing yet). `fixed` and
 * `inputs` are borrowed.
 */
int planner_start(struct planner *pl, const struct job *job, const struct inputs *inputs,
                  const struct plan *fixed, int slots, int log_fd, struct error *err);

/* planner_start for the inputs of `window` only (NULL: all); `fixed` holds only their
 * partitions. */
int planner_start_window(struct planner *pl, const struct job *job, const struct inputs *inputs,
                         const struct plan *fixed, const struct planner_window *window, int slots,
                         int log_fd, struct error *err);

/* Plans more: the next inputs' planned partitions, or about `budget` more bytes of the stream
 * being decoded. Sets planned_all after the last input. Returns 0, or -1 (a corrupt stream,
 * a record too long for the ring). */
int planner_more(struct planner *pl, size_t budget, struct error *err);

/* Whether planner_more would decode now: a stream is being decoded and the ring has room. */
int planner_decoding(const struct planner *pl);

/* While a gzip file (not a pipe) is being decoded: sets *file to its input index, *in_done to how
 * far into it (compressed bytes) decoding is and *in_size to its size, and returns 1; else 0.
 * For the progress line's estimate of a stream's decompressed size. */
int planner_stream_position(const struct planner *pl, size_t *file, uint64_t *in_done,
                            uint64_t *in_size);

/* Partitions [.., upto) are no longer read by anyone: frees the ring behind them. */
void planner_release(struct planner *pl, size_t upto);

/* Where partition p's bytes are in memory (a stream's, in the ring), or NULL (read the file). */
char *planner_data(const struct planner *pl, const struct partition *p);

/* Unmaps the ring and frees the plan; safe on a zeroed planner. */
void planner_free(struct planner *pl);

#endif
