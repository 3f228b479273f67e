/* core/input.c: opening the inputs, telling plain from BGZF from other gzip, and planning. */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Index points no closer than this: each costs 32 KiB of index. */
#define MIN_INDEX_SPACING (256u << 10)

/* Whether the input is to be read as gzip: by the job's word, or (auto) by its magic bytes. */
static int
is_gzip(const struct job *job, int fd)
{
    unsigned char magic[2];

    if (job->input_compression != CONFIG_COMPRESSION_AUTO) {
        return job->input_compression == CONFIG_COMPRESSION_GZIP;
    }
    return pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

/*
 * Works out how a gzip input is read: BGZF (its blocks are indexed from the headers), through
 * its access-point index, or as a stream. Returns 0, ERR_FAILED for corrupt BGZF, or ERR_INVALID
 * (no memory to load the index).
 */
static int
classify_gzip(struct input *in, struct error *err)
{
    char note[1200];
    int is_bgzf, found;

    if (bgzf_index_build(in->fd, in->path, (uint64_t)in->st.st_size, &in->bgzf, &is_bgzf, err) !=
        0) {
        return ERR_FAILED;
    }
    if (is_bgzf) {
        in->kind = INPUT_BGZF;
        return 0;
    }
    if (gz_index_load(in->path, &in->st, &in->gzi, &found, note, sizeof(note), err) != 0) {
        return ERR_INVALID;
    }
    if (found && in->gzi.usize == 0) {
        /* Nothing to split: decoding it here is cheap, and checks it. */
        gz_index_release(&in->gzi);
        found = 0;
    }
    if (found) {
        in->kind = INPUT_GZINDEX;
        return 0;
    }
    if (note[0] != '\0') {
        fprintf(stderr, "tranche: %s; it will be written again\n", note);
    }
    in->kind = INPUT_STREAM;
    return 0;
}

/* Opens input i and checks that it is a regular file other than the output. */
static int
open_one(const struct job *job, const struct stat *out_st, struct input *in, size_t i,
         struct error *err)
{
    in->fd = open(in->path, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0) {
        error_errno(err, "cannot open input %s", in->path);
        return ERR_INVALID;
    }
    if (fstat(in->fd, &in->st) != 0) {
        error_errno(err, "cannot stat input %s", in->path);
        return ERR_INVALID;
    }
    if (!S_ISREG(in->st.st_mode)) {
        error_set(err, "input %s is not a regular file", in->path);
        return ERR_INVALID;
    }
    if (out_st != NULL && in->st.st_dev == out_st->st_dev && in->st.st_ino == out_st->st_ino) {
        error_set(err, "the output %s is also input %zu (%s): refusing to overwrite an input",
                  job->output, i + 1, in->path);
        return ERR_INVALID;
    }
    posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return 0;
}

int
inputs_open(const struct job *job, struct inputs *in, struct error *err)
{
    struct stat out_st;
    int have_out = strcmp(job->output, "-") != 0 && stat(job->output, &out_st) == 0;
    size_t i;
    int rc;

    memset(in, 0, sizeof(*in));
    in->v = calloc(job->n_inputs, sizeof(*in->v));
    if (in->v == NULL) {
        error_set(err, "out of memory");
        return ERR_INVALID;
    }
    in->n = job->n_inputs;
    for (i = 0; i < in->n; i++) {
        in->v[i].path = job->inputs[i];
        in->v[i].fd = -1;
        in->v[i].gzi.fd = -1;
    }
    /* Points as close as the partitions (so that the next run can cut partitions that small). */
    in->index_spacing =
        job->partition_size < GZ_INDEX_SPACING ? job->partition_size : GZ_INDEX_SPACING;
    if (in->index_spacing < MIN_INDEX_SPACING) {
        in->index_spacing = MIN_INDEX_SPACING;
    }
    for (i = 0; i < in->n; i++) {
        rc = open_one(job, have_out ? &out_st : NULL, &in->v[i], i, err);
        if (rc == 0 && is_gzip(job, in->v[i].fd)) {
            rc = classify_gzip(&in->v[i], err);
        }
        if (rc != 0) {
            return rc;
        }
        in->n_streams += in->v[i].kind == INPUT_STREAM;
    }
    return 0;
}

int
inputs_plan(const struct job *job, const struct inputs *in, struct plan *plan, struct error *err)
{
    const uint64_t target = job->partition_size;
    size_t i;
    int rc = 0;

    for (i = 0; i < in->n && rc == 0; i++) {
        const struct input *f = &in->v[i];

        switch (f->kind) {
        case INPUT_PLAIN:
            rc = plan_add_file(plan, i, f->path, f->fd, (uint64_t)f->st.st_size, target,
                               job->delimiter, err);
            break;
        case INPUT_BGZF:
            rc = plan_add_bgzf(plan, i, f->path, &f->bgzf, target, err);
            break;
        case INPUT_GZINDEX:
            rc = plan_add_gzindex(plan, i, f->path, &f->gzi, target, err);
            break;
        case INPUT_STREAM:
            break; /* cut as it is decoded */
        }
    }
    return rc == 0 ? 0 : ERR_INVALID;
}

int
input_is_compressed(const struct input *in)
{
    return in->kind != INPUT_PLAIN;
}

void
inputs_release(struct inputs *in)
{
    size_t i;

    for (i = 0; in->v != NULL && i < in->n; i++) {
        if (in->v[i].fd >= 0) {
            close(in->v[i].fd);
        }
        bgzf_index_release(&in->v[i].bgzf);
        gz_index_release(&in->v[i].gzi);
    }
    free(in->v);
    memset(in, 0, sizeof(*in));
}
