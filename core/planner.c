/* core/planner.c: the partitions known so far, fixed ones and a stream's as it is decoded. */
#include "planner.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stream.h"

int
planner_start(struct planner *pl, const struct job *job, const struct inputs *inputs,
              const struct plan *fixed, int slots, int log_fd, struct error *err)
{
    return planner_start_window(pl, job, inputs, fixed, NULL, slots, log_fd, err);
}

int
planner_start_window(struct planner *pl, const struct job *job, const struct inputs *inputs,
                     const struct plan *fixed, const struct planner_window *window, int slots,
                     int log_fd, struct error *err)
{
    memset(pl, 0, sizeof(*pl));
    pl->stream_fd = -1;
    pl->job = job;
    pl->inputs = inputs;
    pl->fixed = fixed;
    pl->log_fd = log_fd;
    pl->end_file = inputs->n;
    if (window != NULL) {
        pl->plan_file = window->first_file;
        pl->end_file = window->end_file;
        pl->live.number_base = window->first_number;
    }
    if (inputs->n_streams > 0) {
        if (stream_new(STREAM_RING_SIZE, &pl->stream, err) != 0) {
            return -1;
        }
        pl->stream_target = STREAM_RING_SIZE / (uint64_t)slots;
        if (pl->stream_target > job->partition_size) {
            pl->stream_target = job->partition_size;
        }
    }
    return planner_more(pl, 0, err);
}

/* Decodes more of the stream being decoded; at its end, moves on to the next input. */
static int
decode_more(struct planner *pl, size_t budget, struct error *err)
{
    const char *path = pl->inputs->v[pl->plan_file].path;
    enum stream_status status;

    if (stream_step(pl->stream, &pl->live, budget, &status, err) != 0) {
        return -1;
    }
    if (pl->live.n_parts > PLAN_MAX_PARTITIONS) {
        pl->refused = 1;
        return error_set(err,
                         "partition_size %" PRIu64 " cuts %s into more than %d partitions (the "
                         "most a job has): use a larger partition_size",
                         pl->job->partition_size, path, PLAN_MAX_PARTITIONS);
    }
    pl->stream_full = status == STREAM_FULL;
    if (status != STREAM_END) {
        return 0;
    }
    if (stream_index_note(pl->stream)[0] != '\0') {
        log_line(pl->log_fd, "%s: %s", path, stream_index_note(pl->stream));
    }
    pl->stream_active = 0;
    close(pl->stream_fd);
    pl->stream_fd = -1;
    pl->plan_file++;
    return 0;
}

static int
start_stream(struct planner *pl, struct error *err)
{
    const struct input *in = &pl->inputs->v[pl->plan_file];
    struct stream_source src;
    /* Standard input has no path to find an index by again: none is written for it. */
    /* Nor for a format the index cannot start a partition in (input.c, classify_gzip). */
    uint64_t spacing = pl->job->input_index == CONFIG_INDEX_OFF || in->is_stdin ||
                               !framing_syncs(&pl->job->framing)
                           ? 0
                           : pl->inputs->index_spacing;

    pl->stream_fd = input_open(in, err);
    if (pl->stream_fd < 0) {
        return -1;
    }
    memset(&src, 0, sizeof(src));
    src.file = pl->plan_file;
    src.fd = pl->stream_fd;
    src.path = in->path;
    src.st = &in->st;
    src.gzip = !in->sequential || in->gzip;
    src.sequential = in->sequential;
    src.head = in->head;
    src.head_len = in->head_len;
    if (stream_start(pl->stream, &src, pl->stream_target, &pl->job->framing, spacing,
                     pl->job->input_index == CONFIG_INDEX_BESIDE, err) != 0) {
        return -1;
    }
    log_line(pl->log_fd, "%s: %s, cut into partitions of about %" PRIu64 " bytes as it goes",
             in->path,
             in->sequential ? "read as it comes (not a file)"
                            : "gzip without a usable index: decoding it here",
             pl->stream_target);
    pl->stream_active = 1;
    return 0;
}

/* Takes the fixed partitions of input plan_file. */
static int
take_fixed(struct planner *pl, struct error *err)
{
    while (pl->fixed_next < pl->fixed->n_parts &&
           pl->fixed->parts[pl->fixed_next].file == pl->plan_file) {
        const struct partition *q = &pl->fixed->parts[pl->fixed_next++];
        struct partition *p = plan_push(&pl->live, q->file, q->start, q->end);
        if (p == NULL) {
            return error_set(err, "out of memory");
        }
        p->first_block = q->first_block;
        p->end_block = q->end_block;
    }
    pl->plan_file++;
    return 0;
}

int
planner_more(struct planner *pl, size_t budget, struct error *err)
{
    while (!pl->planned_all) {
        int rc;

        if (pl->stream_active) {
            size_t file = pl->plan_file;
            if (decode_more(pl, budget, err) != 0) {
                return -1;
            }
            if (pl->plan_file == file) {
                break; /* decoded its budget, or the ring is full */
            }
            continue;
        }
        if (pl->plan_file >= pl->end_file) {
            pl->planned_all = 1;
            break;
        }
        rc = pl->inputs->v[pl->plan_file].kind == INPUT_STREAM ? start_stream(pl, err)
                                                               : take_fixed(pl, err);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

int
planner_stream_position(const struct planner *pl, size_t *file, uint64_t *in_done,
                        uint64_t *in_size)
{
    const struct input *in;

    if (pl->planned_all || !pl->stream_active || pl->stream == NULL) {
        return 0;
    }
    in = &pl->inputs->v[pl->plan_file];
    if (!S_ISREG(in->st.st_mode) || in->st.st_size <= 0) {
        return 0;
    }
    *file = pl->plan_file;
    *in_done = stream_in_offset(pl->stream);
    *in_size = (uint64_t)in->st.st_size;
    return *in_done > 0;
}

int
planner_decoding(const struct planner *pl)
{
    return !pl->planned_all && !pl->stream_full;
}

void
planner_release(struct planner *pl, size_t upto)
{
    while (pl->release_next < upto && pl->release_next < pl->live.n_parts) {
        const struct partition *p = &pl->live.parts[pl->release_next++];
        if (pl->inputs->v[p->file].kind == INPUT_STREAM) {
            stream_release(pl->stream, p->ring_at + (p->end - p->start));
            pl->stream_full = 0;
        }
    }
}

char *
planner_data(const struct planner *pl, const struct partition *p)
{
    if (pl->inputs->v[p->file].kind != INPUT_STREAM) {
        return NULL;
    }
    return stream_data(pl->stream, p);
}

void
planner_free(struct planner *pl)
{
    if (pl->stream != NULL && pl->stream_fd >= 0) { /* (a zeroed planner has no stream) */
        close(pl->stream_fd);
    }
    stream_free(pl->stream);
    plan_release(&pl->live);
    memset(pl, 0, sizeof(*pl));
    pl->stream_fd = -1;
}
