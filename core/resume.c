/* core/resume.c: the work directory of an interrupted run (resume.h). */
#include "resume.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "fnv.h"
#include "grow.h"
#include "io.h"

#define MANIFEST_MAX (256u << 20) /* bytes: a part line each for PLAN_MAX_PARTITIONS and more */

int
resume_possible(const struct job *job, const struct inputs *inputs)
{
    struct stat st;
    size_t i;

    if (strcmp(job->output, "-") == 0 || (stat(job->output, &st) == 0 && !S_ISREG(st.st_mode))) {
        return 0;
    }
    if (job->aggregate) {
        return 0; /* (its partials are not the output a resumed run could go on from) */
    }
    for (i = 0; i < inputs->n; i++) {
        if (inputs->v[i].is_stdin) {
            return 0;
        }
    }
    return 1;
}

uint64_t
resume_digest_options(uint64_t h, const struct config_step *st)
{
    size_t j, k;

    h = fnv_num(h, st->n_options);
    for (j = 0; j < st->n_options; j++) {
        h = fnv_str(h, st->options[j].name);
        h = fnv_num(h, st->options[j].n_items);
        for (k = 0; k < st->options[j].n_items; k++) {
            h = fnv_str(h, st->options[j].items[k]);
        }
    }
    return h;
}

uint64_t
resume_digest_format(uint64_t h, const struct framing *fr)
{
    h = fnv_num(h, (uint64_t)fr->kind);
    h = fnv(h, fr->delim, fr->delim_len);
    h = fnv_num(h, fr->delim_len);
    h = fnv_num(h, (uint64_t)fr->quote);
    return fnv_num(h, (uint64_t)fr->header);
}

/* What decides the output, apart from the plugins' and inputs' files: steps and their options,
 * the input format, the partition size, what is done with failing records, the output format. */
uint64_t
resume_job_digest(const struct job *job)
{
    uint64_t h = FNV_START;
    size_t i;

    for (i = 0; i < job->n_steps; i++) {
        h = fnv_str(h, job->steps[i].plugin);
        h = resume_digest_options(h, &job->steps[i]);
    }
    h = resume_digest_format(h, &job->framing);
    h = fnv_num(h, job->partition_size);
    h = fnv_num(h, (uint64_t)job->on_error_skip);
    h = fnv_num(h, (uint64_t)job->output_compression);
    h = fnv_num(h, (uint64_t)job->output_level);
    h = fnv_str(h, job->output);
    h = fnv_num(h, job->n_inputs);
    for (i = 0; i < job->n_inputs; i++) {
        h = fnv_str(h, job->inputs[i]);
    }
    return h;
}

int
resume_init(struct resume *rs, const struct job *job, const struct step *steps,
            const struct inputs *inputs, int workers, struct error *err)
{
    struct stat st;
    size_t i, len = 0;
    FILE *f;
    int rc = 0;

    memset(rs, 0, sizeof(*rs));
    if (asprintf(&rs->dir, "%s.tranche-work", job->output) < 0) {
        rs->dir = NULL;
        return error_set(err, "out of memory");
    }
    f = open_memstream(&rs->identity, &len);
    if (f == NULL) {
        resume_release(rs);
        return error_set(err, "out of memory");
    }
    fprintf(f, "tranche-work 1\n");
    fprintf(f, "config %016" PRIx64 "\n", resume_job_digest(job));
    for (i = 0; i < job->n_steps; i++) {
        const char *path = steps[i].plugin->path;
        memset(&st, 0, sizeof(st));
        stat(path, &st);
        fprintf(f, "plugin %s %lld %lld.%09ld\n", path, (long long)st.st_size,
                (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
    for (i = 0; i < inputs->n; i++) {
        const struct input *in = &inputs->v[i];
        fprintf(f, "input %s %s %lld %lld.%09ld\n", in->path, input_kind_name(in),
                (long long)in->st.st_size, (long long)in->st.st_mtim.tv_sec,
                in->st.st_mtim.tv_nsec);
    }
    if (inputs->n_streams > 0) {
        fprintf(f, "workers %d\n", workers);
    }
    rc = ferror(f);
    rc |= fclose(f);
    if (rc != 0) {
        resume_release(rs);
        return error_set(err, "out of memory");
    }
    return 0;
}

void
resume_release(struct resume *rs)
{
    free(rs->dir);
    free(rs->identity);
    free(rs->parts);
    memset(rs, 0, sizeof(*rs));
}

int
resume_exists(const struct resume *rs)
{
    struct stat st;

    return rs->dir != NULL && lstat(rs->dir, &st) == 0;
}

/* DIR/NAME, malloc'd (NULL: out of memory). */
static char *
in_dir(const struct resume *rs, const char *name)
{
    char *path;

    return asprintf(&path, "%s/%s", rs->dir, name) < 0 ? NULL : path;
}

void
resume_remove(const struct resume *rs)
{
    static const char *const names[] = {"output.partial", "manifest", "manifest.tmp"};
    size_t i;

    if (rs->dir == NULL) {
        return;
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *path = in_dir(rs, names[i]);
        if (path != NULL) {
            unlink(path);
        }
        free(path);
    }
    rmdir(rs->dir);
}

int
resume_note(struct resume *rs, const struct resume_part *p)
{
    if (GROW(rs->parts, rs->cap_parts, rs->done + 1) != 0) {
        return -1;
    }
    rs->parts[rs->done++] = *p;
    return 0;
}

/* The CRC-32 of each partition's output in fd (parts[i].crc), which must end at parts[i].out_end
 * in order, the last at `len`. Returns 0, or -1 (a read error, or offsets out of order: the
 * index of the partition in *bad, or SIZE_MAX). */
static int
crc_parts(int fd, struct resume_part *parts, size_t n, uint64_t len, size_t *bad)
{
    static char buf[1 << 20];
    uint64_t off = 0;
    size_t i;

    *bad = SIZE_MAX;
    for (i = 0; i < n; i++) {
        uint32_t crc = 0;
        if (parts[i].out_end < off || parts[i].out_end > len ||
            (i + 1 == n && parts[i].out_end != len)) {
            *bad = i;
            return -1;
        }
        while (off < parts[i].out_end) {
            uint64_t left = parts[i].out_end - off;
            size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
            ssize_t got = io_pread_full(fd, buf, want, off);
            if (got <= 0) {
                return -1;
            }
            crc = codec_crc32(crc, buf, (size_t)got);
            off += (uint64_t)got;
        }
        parts[i].crc = crc;
    }
    return n == 0 && len != 0 ? -1 : 0;
}

/* Writes the manifest to `path`, in one pass (a part line per partition: there may be 100000). */
static int
write_manifest(const struct resume *rs, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    size_t i;
    int bad;

    if (f == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    fprintf(f, "%sdone %zu %" PRIu64 "\n", rs->identity, rs->done, rs->out_len);
    for (i = 0; i < rs->done; i++) {
        const struct resume_part *p = &rs->parts[i];
        fprintf(f,
                "part %zu %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                " %" PRIu64 " %" PRIu64 " %08" PRIx32 "\n",
                p->file, p->start, p->end, p->records_in, p->records_out, p->bytes_in, p->bytes_out,
                p->skipped, p->out_end, p->crc);
    }
    bad = ferror(f) || fflush(f) != 0;
    return fclose(f) != 0 || bad ? -1 : 0;
}

int
resume_save(struct resume *rs, const char *partial, struct error *err)
{
    char *partial_at = in_dir(rs, "output.partial"), *manifest = in_dir(rs, "manifest");
    char *tmp = in_dir(rs, "manifest.tmp");
    size_t bad = SIZE_MAX;
    int fd = -1, rc = -1;

    if (partial_at == NULL || manifest == NULL || tmp == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    fd = open(partial, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || crc_parts(fd, rs->parts, rs->done, rs->out_len, &bad) != 0) {
        if (bad != SIZE_MAX) {
            error_set(err, "internal error: partition %zu's output ends out of order", bad);
        } else {
            error_errno(err, "cannot read %s", partial);
        }
        goto out;
    }
    if (mkdir(rs->dir, 0700) != 0 && errno != EEXIST) {
        error_errno(err, "cannot make %s", rs->dir);
        goto out;
    }
    close(fd);
    fd = -1;
    if (write_manifest(rs, tmp) != 0) {
        error_errno(err, "cannot write %s", tmp);
        goto out;
    }
    fd = -1;
    if (rename(partial, partial_at) != 0) {
        error_errno(err, "cannot move %s to %s", partial, partial_at);
        goto out;
    }
    if (rename(tmp, manifest) != 0) {
        error_errno(err, "cannot write %s", manifest);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0 && tmp != NULL) {
        unlink(tmp);
    }
    free(partial_at);
    free(manifest);
    free(tmp);
    return rc;
}

/* The first word of a line, for saying what changed. */
static void
describe_change(const char *was, size_t was_len, const char *now, size_t now_len, char *buf,
                size_t size)
{
    if (was_len > 7 && strncmp(was, "config ", 7) == 0) {
        snprintf(buf, size,
                 "the job's steps, their options, the input format, delimiter, quote and header, "
                 "partition_size, on_error, the "
                 "output or the input list changed");
    } else if (was_len > 7 && strncmp(was, "plugin ", 7) == 0) {
        snprintf(buf, size, "a plugin's file changed: was '%.*s', now '%.*s'", (int)was_len - 7,
                 was + 7, now_len > 7 ? (int)now_len - 7 : 0, now_len > 7 ? now + 7 : "");
    } else if (was_len > 6 && strncmp(was, "input ", 6) == 0) {
        snprintf(buf, size,
                 "an input changed (path, how it is read, size, mtime): was '%.*s', now '%.*s'",
                 (int)was_len - 6, was + 6, now_len > 6 ? (int)now_len - 6 : 0,
                 now_len > 6 ? now + 6 : "");
    } else if (was_len > 8 && strncmp(was, "workers ", 8) == 0) {
        snprintf(buf, size,
                 "the number of workers changed (was %.*s), and an input decoded as it is read "
                 "is cut by it: give --workers %.*s",
                 (int)was_len - 8, was + 8, (int)was_len - 8, was + 8);
    } else {
        snprintf(buf, size, "the job changed: was '%.*s', now '%.*s'", (int)was_len, was,
                 (int)now_len, now);
    }
}

/* Compares the manifest's identity lines with ours; ERR_INVALID saying what changed. */
static int
check_identity(const struct resume *rs, const char *text, const char **rest, struct error *err)
{
    const char *was = text, *now = rs->identity;
    char what[1024];

    while (*now != '\0') {
        size_t was_len = strcspn(was, "\n"), now_len = strcspn(now, "\n");
        if (was_len != now_len || memcmp(was, now, now_len) != 0) {
            if (strncmp(was, "done ", 5) == 0) {
                snprintf(what, sizeof(what), "the job changed (an input or a step was added)");
            } else {
                describe_change(was, was_len, now, now_len, what, sizeof(what));
            }
            error_set(err, "cannot resume from %s: %s; run without --resume to start afresh",
                      rs->dir, what);
            return ERR_INVALID;
        }
        was += was_len + (was[was_len] == '\n');
        now += now_len + (now[now_len] == '\n');
    }
    *rest = was;
    return 0;
}

/* The line at *text into buf (NUL-terminated; -1 when longer than buf), *text moved past it. */
static int
next_line(const char **text, char *buf, size_t size)
{
    size_t len = strcspn(*text, "\n");

    if (len >= size || (*text)[len] != '\n') {
        return -1;
    }
    memcpy(buf, *text, len);
    buf[len] = '\0';
    *text += len + 1;
    return 0;
}

/* Parses the `done` and `part` lines, each on its own (sscanf on the rest of a long text would
 * measure all of it each time). */
static int
parse_state(struct resume *rs, const char *text)
{
    struct resume_part p;
    char line[512];
    size_t n, k;
    int used = 0;

    if (next_line(&text, line, sizeof(line)) != 0 ||
        sscanf(line, "done %zu %" SCNu64 "%n", &n, &rs->out_len, &used) != 2 ||
        line[used] != '\0') {
        return -1;
    }
    rs->done = 0;
    for (k = 0; k < n; k++) {
        memset(&p, 0, sizeof(p));
        used = 0;
        if (next_line(&text, line, sizeof(line)) != 0 ||
            sscanf(line,
                   "part %zu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                   " %" SCNu64 " %" SCNu64 " %" SCNx32 "%n",
                   &p.file, &p.start, &p.end, &p.records_in, &p.records_out, &p.bytes_in,
                   &p.bytes_out, &p.skipped, &p.out_end, &p.crc, &used) != 10 ||
            line[used] != '\0' || p.end <= p.start || resume_note(rs, &p) != 0) {
            return -1;
        }
    }
    return *text == '\0' ? 0 : -1;
}

/* Each partition's output in output.partial (open on fd) against its CRC-32 in the manifest. */
static int
check_parts(struct resume *rs, int fd, const char *partial, struct error *err)
{
    uint32_t *want = malloc((rs->done > 0 ? rs->done : 1) * sizeof(*want));
    size_t i, bad;
    int rc = -1;

    if (want == NULL) {
        return error_set(err, "out of memory");
    }
    for (i = 0; i < rs->done; i++) {
        want[i] = rs->parts[i].crc;
    }
    if (crc_parts(fd, rs->parts, rs->done, rs->out_len, &bad) != 0) {
        if (bad != SIZE_MAX) {
            error_set(err,
                      "cannot resume: the manifest's partition %zu ends at a wrong offset; "
                      "run without --resume to start afresh",
                      bad);
        } else {
            error_errno(err, "cannot read %s", partial);
        }
        goto out;
    }
    for (i = 0; i < rs->done; i++) {
        if (rs->parts[i].crc != want[i]) {
            error_set(err,
                      "cannot resume: partition %zu's output in %s (bytes %" PRIu64 "-%" PRIu64
                      ") is not what the interrupted run wrote (CRC-32 %08" PRIx32
                      ", was %08" PRIx32 "); run without --resume to start afresh",
                      i, partial, i > 0 ? rs->parts[i - 1].out_end : 0, rs->parts[i].out_end,
                      rs->parts[i].crc, want[i]);
            goto out;
        }
    }
    rc = 0;
out:
    free(want);
    return rc;
}

int
resume_load(struct resume *rs, struct error *err)
{
    char *manifest = in_dir(rs, "manifest"), *partial = in_dir(rs, "output.partial");
    char *text = NULL;
    const char *rest;
    size_t len = 0;
    struct stat st;
    int fd = -1, rc = ERR_INVALID;

    if (manifest == NULL || partial == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    text = (lstat(manifest, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < MANIFEST_MAX)
               ? malloc((size_t)st.st_size + 1)
               : NULL;
    fd = text != NULL ? open(manifest, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (fd < 0 ||
        (len = (size_t)io_read_full(fd, text, (size_t)st.st_size)) != (size_t)st.st_size) {
        error_set(err,
                  "--resume: there is nothing to resume: no %s (a run that wrote some partitions "
                  "before it failed or was stopped leaves it)",
                  manifest);
        goto out;
    }
    text[len] = '\0';
    close(fd);
    fd = -1;
    if (check_identity(rs, text, &rest, err) != 0) {
        goto out;
    }
    if (parse_state(rs, rest) != 0) {
        error_set(err, "cannot resume: %s is damaged; run without --resume to start afresh",
                  manifest);
        goto out;
    }
    fd = open(partial, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != rs->out_len) {
        error_set(err,
                  "cannot resume: %s is missing, or is not what the interrupted run left (%" PRIu64
                  " bytes); run without --resume to start afresh",
                  partial, rs->out_len);
        goto out;
    }
    if (check_parts(rs, fd, partial, err) != 0) {
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    free(text);
    free(manifest);
    free(partial);
    return rc;
}

int
resume_take_partial(struct resume *rs, const char *path, struct error *err)
{
    char *partial = in_dir(rs, "output.partial");

    if (partial == NULL) {
        return error_set(err, "out of memory");
    }
    if (rename(partial, path) != 0) {
        error_errno(err, "cannot move %s to %s", partial, path);
        free(partial);
        return -1;
    }
    free(partial);
    rs->taken = 1;
    return 0;
}
