/* core/shards.c: the shard plan, a shard's part and its seal, the merge (see shards.h). */
#include "shards.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "fnv.h"
#include "grow.h"
#include "io.h"
#include "output.h"
#include "paths.h"
#include "resume.h"

#define PLAN_VERSION "tranche-shards 1"
#define SUM_VERSION "tranche-part 1"
#define PLAN_MAX_BYTES (64u << 20)
#define ID_SPAN (64u << 10) /* bytes read at each of an input's three places */

/* A unit: a partition of the plan (part: its index there), or a whole stream (part: SIZE_MAX). */
struct unit {
    size_t file;
    uint64_t start, end;
    size_t part;
    uint64_t bytes;
};

uint64_t
shards_combine_digest(const struct job *job)
{
    uint64_t h = FNV_START;
    size_t i;

    for (i = 0; i < job->n_steps; i++) {
        const struct config_step *st = &job->steps[i];
        const char *name = st->plugin != NULL ? strrchr(st->plugin, '/') : NULL;
        h = fnv_str(h, name != NULL ? name + 1 : st->plugin);
        h = fnv_num(h, (uint64_t)st->exec);
        h = fnv_num(h, (uint64_t)st->aggregate);
        h = resume_digest_options(h, st);
    }
    return resume_digest_format(h, &job->framing);
}

/* The units of the job, in input order. *out is malloc'd. */
static int
make_units(const struct inputs *in, const struct plan *plan, struct unit **out, size_t *n_out,
           struct error *err)
{
    struct unit *u = NULL;
    size_t n = 0, cap = 0, f, k = 0;

    for (f = 0; f < in->n; f++) {
        if (in->v[f].kind == INPUT_STREAM) {
            if (GROW(u, cap, n + 1) != 0) {
                goto oom;
            }
            u[n].file = f;
            u[n].start = 0;
            u[n].end = (uint64_t)in->v[f].st.st_size;
            u[n].part = SIZE_MAX;
            u[n].bytes = u[n].end;
            n++;
            continue;
        }
        for (; k < plan->n_parts && plan->parts[k].file == f; k++) {
            if (GROW(u, cap, n + 1) != 0) {
                goto oom;
            }
            u[n].file = f;
            u[n].start = plan->parts[k].start;
            u[n].end = plan->parts[k].end;
            u[n].part = k;
            u[n].bytes = u[n].end - u[n].start;
            n++;
        }
    }
    *out = u;
    *n_out = n;
    return 0;
oom:
    free(u);
    return error_set(err, "out of memory");
}

static uint64_t
units_digest(const struct unit *u, size_t n)
{
    uint64_t h = FNV_START;
    size_t i;

    for (i = 0; i < n; i++) {
        h = fnv_num(h, u[i].file);
        h = fnv_num(h, u[i].start);
        h = fnv_num(h, u[i].end);
        h = fnv_num(h, u[i].part == SIZE_MAX);
    }
    return h;
}

/* The identity of the file at path: size, mtime, CRC-32 of three spans. */
static int
read_identity(const char *path, struct shard_input *id, struct error *err)
{
    static unsigned char buf[ID_SPAN];
    uint64_t at[3];
    struct stat st;
    int fd, i;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        error_errno(err, "cannot read input %s", path);
        if (fd >= 0) {
            close(fd);
        }
        return ERR_INVALID;
    }
    id->size = (uint64_t)st.st_size;
    id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    at[0] = 0;
    at[1] = id->size > ID_SPAN ? id->size / 2 - ID_SPAN / 2 : 0;
    at[2] = id->size > ID_SPAN ? id->size - ID_SPAN : 0;
    for (i = 0; i < 3; i++) {
        ssize_t got = io_pread_full(fd, buf, sizeof(buf), at[i]);
        if (got < 0) {
            error_errno(err, "cannot read input %s", path);
            close(fd);
            return ERR_INVALID;
        }
        id->crc[i] = codec_crc32(0, buf, (size_t)got);
    }
    close(fd);
    return 0;
}

/* Cuts n shards of about equal bytes out of the units; each gets one unit at least. */
static void
cut_shards(const struct unit *u, size_t n_units, struct shard *s, size_t n)
{
    unsigned __int128 total = 0;
    uint64_t cum = 0;
    size_t k, i = 0;

    for (k = 0; k < n_units; k++) {
        total += u[k].bytes;
    }
    for (k = 0; k < n; k++) {
        uint64_t target = (uint64_t)(total * (k + 1) / n);
        size_t max_end = n_units - (n - 1 - k);
        s[k].first = i;
        s[k].bytes = 0;
        /* Takes the next unit while the shard's end is nearer its target with it than without. */
        do {
            cum += u[i].bytes;
            s[k].bytes += u[i].bytes;
            i++;
        } while (i < max_end && (k + 1 == n || cum + u[i].bytes / 2 < target));
        s[k].end = i;
        s[k].first_file = u[s[k].first].file;
        s[k].end_file = u[i - 1].file + 1;
    }
}

/* path made absolute (malloc'd), without resolving links. */
static char *
absolute(const char *path)
{
    char cwd[PATH_MAX];
    char *out;

    if (path[0] == '/' || strcmp(path, "-") == 0) {
        return strdup(path);
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL || asprintf(&out, "%s/%s", cwd, path) < 0) {
        return NULL;
    }
    return out;
}

int
shards_make(const struct job *job, const struct inputs *in, const struct plan *plan, size_t n,
            uint64_t config, int gzip_level, struct shard_plan *sp, struct error *err)
{
    struct unit *u = NULL;
    size_t n_units = 0, i;
    int rc;

    memset(sp, 0, sizeof(*sp));
    for (i = 0; i < in->n; i++) {
        if (in->v[i].is_stdin) {
            return error_set(err, "standard input cannot be cut into shards: each shard reads its "
                                  "inputs again"),
                   ERR_INVALID;
        }
        if (strchr(in->v[i].path, '\n') != NULL) {
            return error_set(err, "input %s: a name with a newline cannot go in the shard plan",
                             in->v[i].path),
                   ERR_INVALID;
        }
    }
    if (make_units(in, plan, &u, &n_units, err) != 0) {
        return ERR_INVALID;
    }
    if (n == 0 || n > n_units) {
        error_set(err,
                  "--shards %zu: the job has %zu unit(s) to share out (partitions, and gzip inputs "
                  "without an index whole): use at most %zu shards, or a smaller partition_size",
                  n, n_units, n_units);
        free(u);
        return ERR_INVALID;
    }
    sp->job_path = realpath(job->file, NULL);
    sp->output = absolute(job->output);
    sp->inputs = calloc(in->n, sizeof(*sp->inputs));
    sp->shards = calloc(n, sizeof(*sp->shards));
    rc = sp->job_path == NULL || sp->output == NULL || sp->inputs == NULL || sp->shards == NULL;
    if (rc != 0) {
        error_errno(err, "cannot make the shard plan of %s", job->file);
        goto fail;
    }
    sp->config = config;
    sp->gzip_level = gzip_level;
    sp->partials = job->aggregate != 0;
    sp->combine = sp->partials ? shards_combine_digest(job) : 0;
    sp->n_units = n_units;
    sp->units_digest = units_digest(u, n_units);
    sp->n_inputs = in->n;
    for (i = 0; i < in->n; i++) {
        sp->inputs[i].path = strdup(in->v[i].path);
        if (sp->inputs[i].path == NULL) {
            error_set(err, "out of memory");
            goto fail;
        }
        rc = read_identity(in->v[i].path, &sp->inputs[i], err);
        if (rc != 0) {
            goto fail;
        }
    }
    sp->n = n;
    cut_shards(u, n_units, sp->shards, n);
    free(u);
    return 0;
fail:
    free(u);
    shards_release(sp);
    return ERR_INVALID;
}

void
shards_release(struct shard_plan *sp)
{
    size_t i;

    for (i = 0; sp->inputs != NULL && i < sp->n_inputs; i++) {
        free(sp->inputs[i].path);
    }
    free(sp->inputs);
    free(sp->shards);
    free(sp->dir);
    free(sp->job_path);
    free(sp->output);
    memset(sp, 0, sizeof(*sp));
}

/* The plan's text (malloc'd). */
static char *
plan_text(const struct shard_plan *sp)
{
    char *text = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL) {
        return NULL;
    }
    fprintf(f, "%s\njob %s\nconfig %016" PRIx64 "\noutput %s\ngzip %d\n", PLAN_VERSION,
            sp->job_path, sp->config, sp->output, sp->gzip_level);
    if (sp->partials) {
        fprintf(f, "parts partials %016" PRIx64 "\n", sp->combine);
    }
    fprintf(f, "units %zu %016" PRIx64 "\nshards %zu\ninputs %zu\n", sp->n_units, sp->units_digest,
            sp->n, sp->n_inputs);
    for (i = 0; i < sp->n_inputs; i++) {
        const struct shard_input *id = &sp->inputs[i];
        fprintf(f, "input %" PRIu64 " %" PRId64 " %08" PRIx32 " %08" PRIx32 " %08" PRIx32 " %s\n",
                id->size, id->mtime_ns, id->crc[0], id->crc[1], id->crc[2], id->path);
    }
    for (i = 0; i < sp->n; i++) {
        const struct shard *s = &sp->shards[i];
        fprintf(f, "shard %zu %zu %zu %zu %zu %" PRIu64 "\n", i, s->first, s->end, s->first_file,
                s->end_file, s->bytes);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static char *
in_dir(const char *dir, const char *name)
{
    char *path;

    return asprintf(&path, "%s/%s", dir, name) < 0 ? NULL : path;
}

/* Writes len bytes to path atomically (path.tmp, then rename). */
static int
write_atomic(const char *path, const char *data, size_t len, struct error *err)
{
    char *tmp = NULL;
    int fd, rc = -1;

    if (asprintf(&tmp, "%s.tmp", path) < 0) {
        return error_set(err, "out of memory");
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        error_errno(err, "cannot create %s", tmp);
        goto out;
    }
    if (io_write_all(fd, data, len) != 0) {
        error_errno(err, "cannot write %s", tmp);
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        error_errno(err, "cannot write %s", path);
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

int
shards_write(struct shard_plan *sp, const char *dir, struct error *err)
{
    struct path_made made;
    char *text = plan_text(sp), *path = in_dir(dir, SHARDS_PLAN_NAME);
    int rc = -1;

    memset(&made, 0, sizeof(made));
    if (text == NULL || path == NULL || (sp->dir = strdup(dir)) == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    if (path_mkdirs(dir, err) != 0 || write_atomic(path, text, strlen(text), err) != 0) {
        goto out;
    }
    sp->digest = fnv(FNV_START, text, strlen(text));
    rc = 0;
out:
    free(text);
    free(path);
    return rc;
}

void
shards_print(const struct shard_plan *sp, const struct inputs *in, const struct plan *plan)
{
    struct unit *u = NULL;
    struct error err;
    size_t n_units = 0, i;

    if (make_units(in, plan, &u, &n_units, &err) != 0 || n_units != sp->n_units) {
        free(u);
        return;
    }
    printf("%-6s %-11s %14s  %s\n", "shard", "partitions", "bytes", "from - to");
    for (i = 0; i < sp->n; i++) {
        const struct shard *s = &sp->shards[i];
        const struct unit *a = &u[s->first], *b = &u[s->end - 1];
        char units[48];
        snprintf(units, sizeof(units), "%zu-%zu", s->first, s->end - 1);
        printf("%-6zu %-11s %14" PRIu64 "  %s:%" PRIu64 " - %s:%" PRIu64 "\n", i, units, s->bytes,
               in->v[a->file].path, a->start, in->v[b->file].path, b->end);
    }
    free(u);
}

/* Reads a whole small file (malloc'd, NUL-terminated). NULL with errno set. */
static char *
slurp(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *text;
    ssize_t n;

    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > max) {
        close(fd);
        errno = EFBIG;
        return NULL;
    }
    text = malloc((size_t)st.st_size + 1);
    n = text != NULL ? io_read_full(fd, text, (size_t)st.st_size) : -1;
    close(fd);
    if (n != (ssize_t)st.st_size) {
        free(text);
        errno = EIO;
        return NULL;
    }
    text[n] = '\0';
    *len = (size_t)n;
    return text;
}

/* The next line of *text (NUL-terminated in place); NULL at the end. */
static char *
next_line(char **text)
{
    char *line = *text, *nl;

    if (*line == '\0') {
        return NULL;
    }
    nl = strchr(line, '\n');
    if (nl == NULL) {
        *text = line + strlen(line);
    } else {
        *nl = '\0';
        *text = nl + 1;
    }
    return line;
}

/* A line "KEY REST": REST copied (malloc'd). */
static int
take_string(char *line, const char *key, char **out)
{
    size_t n = strlen(key);

    if (line == NULL || strncmp(line, key, n) != 0 || line[n] != ' ') {
        return -1;
    }
    *out = strdup(line + n + 1);
    return *out == NULL ? -1 : 0;
}

static int
parse_plan(char *text, struct shard_plan *sp)
{
    char *line;
    size_t i, k;
    int at;

    if ((line = next_line(&text)) == NULL || strcmp(line, PLAN_VERSION) != 0 ||
        take_string(next_line(&text), "job", &sp->job_path) != 0 ||
        (line = next_line(&text)) == NULL ||
        sscanf(line, "config %" SCNx64 "%n", &sp->config, &at) != 1 || line[at] != '\0' ||
        take_string(next_line(&text), "output", &sp->output) != 0 ||
        (line = next_line(&text)) == NULL || sscanf(line, "gzip %d", &sp->gzip_level) != 1 ||
        (line = next_line(&text)) == NULL ||
        ((sp->partials = sscanf(line, "parts partials %" SCNx64 "%n", &sp->combine, &at) == 1 &&
                         line[at] == '\0') &&
         (line = next_line(&text)) == NULL) ||
        sscanf(line, "units %zu %" SCNx64, &sp->n_units, &sp->units_digest) != 2 ||
        (line = next_line(&text)) == NULL || sscanf(line, "shards %zu", &sp->n) != 1 ||
        (line = next_line(&text)) == NULL || sscanf(line, "inputs %zu", &sp->n_inputs) != 1 ||
        sp->n == 0 || sp->n > sp->n_units || sp->n_inputs > (1u << 24)) {
        return -1;
    }
    sp->inputs = calloc(sp->n_inputs + 1, sizeof(*sp->inputs));
    sp->shards = calloc(sp->n, sizeof(*sp->shards));
    if (sp->inputs == NULL || sp->shards == NULL) {
        return -1;
    }
    for (i = 0; i < sp->n_inputs; i++) {
        struct shard_input *id = &sp->inputs[i];
        line = next_line(&text);
        if (line == NULL ||
            sscanf(line, "input %" SCNu64 " %" SCNd64 " %" SCNx32 " %" SCNx32 " %" SCNx32 " %n",
                   &id->size, &id->mtime_ns, &id->crc[0], &id->crc[1], &id->crc[2], &at) != 5 ||
            (id->path = strdup(line + at)) == NULL) {
            return -1;
        }
    }
    for (i = 0; i < sp->n; i++) {
        struct shard *s = &sp->shards[i];
        line = next_line(&text);
        if (line == NULL ||
            sscanf(line, "shard %zu %zu %zu %zu %zu %" SCNu64, &k, &s->first, &s->end,
                   &s->first_file, &s->end_file, &s->bytes) != 6 ||
            k != i || s->first >= s->end || s->end > sp->n_units || s->first_file >= s->end_file ||
            s->end_file > sp->n_inputs || (i > 0 && s->first != sp->shards[i - 1].end) ||
            (i == 0 && s->first != 0)) {
            return -1;
        }
    }
    return sp->shards[sp->n - 1].end == sp->n_units && next_line(&text) == NULL ? 0 : -1;
}

int
shards_read(const char *dir, struct shard_plan *sp, struct error *err)
{
    char *path = in_dir(dir, SHARDS_PLAN_NAME), *text;
    size_t len = 0;
    int rc = ERR_INVALID;

    memset(sp, 0, sizeof(*sp));
    if (path == NULL || (sp->dir = strdup(dir)) == NULL) {
        free(path);
        return error_set(err, "out of memory"), ERR_INVALID;
    }
    text = slurp(path, PLAN_MAX_BYTES, &len);
    if (text != NULL) {
        sp->digest = fnv(FNV_START, text, len); /* (parse_plan cuts its lines) */
    }
    if (text == NULL) {
        error_errno(err,
                    "cannot read the shard plan %s (tranche plan JOB.yaml --shards N --work-dir %s "
                    "writes it)",
                    path, dir);
    } else if (parse_plan(text, sp) != 0) {
        error_set(err,
                  "%s is not a shard plan this tranche can read (make it again with tranche "
                  "plan --shards)",
                  path);
    } else {
        rc = 0;
    }
    free(text);
    free(path);
    if (rc != 0) {
        shards_release(sp);
    }
    return rc;
}

int
shards_check_inputs(const struct shard_plan *sp, struct error *err)
{
    struct shard_input now;
    size_t i;

    for (i = 0; i < sp->n_inputs; i++) {
        const struct shard_input *was = &sp->inputs[i];
        if (read_identity(was->path, &now, err) != 0) {
            return error_prefix(err, "input changed since the shard plan"), ERR_INVALID;
        }
        if (now.size != was->size) {
            return error_set(err,
                             "input %s changed since the shard plan: size %" PRIu64 " -> %" PRIu64
                             " (plan the shards again)",
                             was->path, was->size, now.size),
                   ERR_INVALID;
        }
        if (now.mtime_ns != was->mtime_ns) {
            return error_set(err,
                             "input %s changed since the shard plan: its mtime is not the plan's "
                             "(plan the shards again)",
                             was->path),
                   ERR_INVALID;
        }
        if (memcmp(now.crc, was->crc, sizeof(now.crc)) != 0) {
            return error_set(err,
                             "input %s changed since the shard plan: its content is not the "
                             "plan's (plan the shards again)",
                             was->path),
                   ERR_INVALID;
        }
    }
    return 0;
}

int
shards_select(const struct shard_plan *sp, size_t index, const struct job *job, uint64_t config,
              const struct inputs *in, const struct plan *plan, struct plan *out,
              struct planner_window *w, struct error *err)
{
    char *job_path = realpath(job->file, NULL);
    const struct shard *s = &sp->shards[index];
    struct unit *u = NULL;
    size_t n_units = 0, i;
    int same_path = job_path != NULL && strcmp(job_path, sp->job_path) == 0;

    free(job_path);
    if (config != sp->config) {
        return error_set(err,
                         "the shard plan in %s was made for %s: plan the shards again (tranche "
                         "plan --shards)",
                         sp->dir,
                         same_path ? "another version of this job (its steps, options, inputs "
                                     "or output differ)"
                                   : sp->job_path),
               ERR_INVALID;
    }
    if (in->n != sp->n_inputs) {
        return error_set(err, "the job has %zu input(s), its shard plan in %s %zu", in->n, sp->dir,
                         sp->n_inputs),
               ERR_INVALID;
    }
    for (i = 0; i < in->n; i++) {
        if (strcmp(in->v[i].path, sp->inputs[i].path) != 0) {
            return error_set(err, "input %zu is %s, and %s in the shard plan in %s", i + 1,
                             in->v[i].path, sp->inputs[i].path, sp->dir),
                   ERR_INVALID;
        }
    }
    if (shards_check_inputs(sp, err) != 0) {
        return ERR_INVALID;
    }
    if (make_units(in, plan, &u, &n_units, err) != 0) {
        return ERR_INVALID;
    }
    if (n_units != sp->n_units || units_digest(u, n_units) != sp->units_digest) {
        free(u);
        return error_set(err,
                         "the job's partitions are not those of its shard plan in %s: plan "
                         "the shards again",
                         sp->dir),
               ERR_INVALID;
    }
    for (i = s->first; i < s->end; i++) {
        struct partition *p;
        if (u[i].part == SIZE_MAX) {
            continue; /* (a stream: the planner decodes it, in the window) */
        }
        p = plan_push(out, u[i].file, u[i].start, u[i].end);
        if (p == NULL) {
            free(u);
            return error_set(err, "out of memory"), ERR_INVALID;
        }
        p->first_block = plan->parts[u[i].part].first_block;
        p->end_block = plan->parts[u[i].part].end_block;
    }
    free(u);
    w->first_file = s->first_file;
    w->end_file = s->end_file;
    w->first_number = s->first;
    return 0;
}

/* A non-negative integer from the environment variable `name`; -1 when unset, -2 when not one. */
static long
env_index(const char *name)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (v == NULL || *v == '\0') {
        return -1;
    }
    errno = 0;
    n = strtol(v, &end, 10);
    return errno != 0 || *end != '\0' || n < 0 ? -2 : n;
}

int
shards_auto_index(size_t n, size_t *index, struct error *err)
{
    static const char *const names[] = {"SLURM_ARRAY_TASK_ID", "AWS_BATCH_JOB_ARRAY_INDEX",
                                        "BATCH_TASK_INDEX", "JOB_COMPLETION_INDEX"};
    size_t i;
    long k = -1, max;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        k = env_index(names[i]);
        if (k != -1) {
            break;
        }
    }
    if (k == -1) {
        return error_set(err, "--shard auto: no shard index in the environment "
                              "(SLURM_ARRAY_TASK_ID, AWS_BATCH_JOB_ARRAY_INDEX, BATCH_TASK_INDEX "
                              "or JOB_COMPLETION_INDEX): give --shard I/N"),
               ERR_INVALID;
    }
    if (k == -2 || (size_t)k >= n) {
        return error_set(err,
                         "--shard auto: %s is %s, and the shard plan has %zu shard(s), "
                         "numbered from 0",
                         names[i], getenv(names[i]), n),
               ERR_INVALID;
    }
    /* A Slurm array larger than the plan was submitted for another plan (a resubmission of some
     * shards, --array=1,3, is smaller: its task count is not N). */
    max = env_index("SLURM_ARRAY_TASK_MAX");
    if (i == 0 && max >= 0 && (size_t)max >= n) {
        return error_set(err,
                         "--shard auto: the Slurm array goes up to %ld, and the shard plan "
                         "has %zu shard(s), numbered from 0",
                         max, n),
               ERR_INVALID;
    }
    max = env_index("BATCH_TASK_COUNT");
    if (i == 2 && max >= 0 && (size_t)max != n) {
        return error_set(err,
                         "--shard auto: BATCH_TASK_COUNT is %ld, and the shard plan has %zu "
                         "shard(s)",
                         max, n),
               ERR_INVALID;
    }
    *index = (size_t)k;
    return 0;
}

char *
shards_part_path(const char *dir, size_t index)
{
    char *path;

    return asprintf(&path, "%s/part-%zu", dir, index) < 0 ? NULL : path;
}

static char *
sum_path(const char *dir, size_t index)
{
    char *path;

    return asprintf(&path, "%s/part-%zu.sum", dir, index) < 0 ? NULL : path;
}

int
shards_forget(const struct shard_plan *sp, size_t index, struct error *err)
{
    char *path = sum_path(sp->dir, index);
    int rc = 0;

    if (path == NULL) {
        return error_set(err, "out of memory");
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        rc = error_errno(err, "cannot remove %s", path);
    }
    free(path);
    return rc;
}

/* The size and CRC-32 of the file open on fd. */
static int
crc_file(int fd, const char *path, uint64_t *size, uint32_t *crc, struct error *err)
{
    static char buf[1 << 20];
    uint64_t off = 0;
    uint32_t c = 0;
    ssize_t n;

    while ((n = io_pread_full(fd, buf, sizeof(buf), off)) > 0) {
        c = codec_crc32(c, buf, (size_t)n);
        off += (uint64_t)n;
    }
    if (n < 0) {
        return error_errno(err, "cannot read %s", path);
    }
    *size = off;
    *crc = c;
    return 0;
}

int
shards_seal(const struct shard_plan *sp, size_t index, struct error *err)
{
    char *part = shards_part_path(sp->dir, index), *sum = sum_path(sp->dir, index);
    char text[256];
    uint64_t size = 0;
    uint32_t crc = 0;
    int fd = -1, rc = -1;

    if (part == NULL || sum == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    fd = open(part, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        error_errno(err, "cannot open %s", part);
        goto out;
    }
    if (crc_file(fd, part, &size, &crc, err) != 0) {
        goto out;
    }
    snprintf(text, sizeof(text),
             "%s\nshard %zu %zu\nplan %016" PRIx64 "\nsize %" PRIu64 "\ncrc32 %08" PRIx32 "\n",
             SUM_VERSION, index, sp->n, sp->digest, size, crc);
    rc = write_atomic(sum, text, strlen(text), err);
out:
    if (fd >= 0) {
        close(fd);
    }
    free(part);
    free(sum);
    return rc;
}

/* What part-I.sum says. */
struct part_sum {
    size_t index, n;
    uint64_t plan, size;
    uint32_t crc;
};

static int
read_sum(const char *path, struct part_sum *ps)
{
    size_t len;
    char *text = slurp(path, 4096, &len);
    int ok;

    if (text == NULL) {
        return -1;
    }
    ok = sscanf(text,
                SUM_VERSION "\nshard %zu %zu\nplan %" SCNx64 "\nsize %" SCNu64 "\ncrc32 %" SCNx32,
                &ps->index, &ps->n, &ps->plan, &ps->size, &ps->crc) == 5;
    free(text);
    if (!ok) {
        errno = EINVAL;
    }
    return ok ? 0 : -1;
}

enum shard_state
shards_state(const struct shard_plan *sp, size_t index, int read_crc, char *why, size_t size)
{
    char *part = shards_part_path(sp->dir, index), *sum = sum_path(sp->dir, index);
    enum shard_state state = SHARD_DAMAGED;
    struct part_sum ps;
    struct error err;
    struct stat st;
    uint64_t got = 0;
    uint32_t crc = 0;
    int fd = -1;

    snprintf(why, size, "done");
    if (part == NULL || sum == NULL) {
        snprintf(why, size, "out of memory");
        goto out;
    }
    if (lstat(part, &st) != 0 && errno == ENOENT) {
        snprintf(why, size, "missing: no %s", part);
        state = SHARD_MISSING;
        goto out;
    }
    if (read_sum(sum, &ps) != 0) {
        snprintf(why, size, "damaged: %s: %s", sum,
                 errno == ENOENT ? "missing (the shard's run did not finish)"
                                 : "not a part's checksum record");
        goto out;
    }
    if (ps.plan != sp->digest || ps.index != index || ps.n != sp->n) {
        snprintf(why, size, "damaged: %s is stale: it was made for another shard plan", part);
        goto out;
    }
    fd = open(part, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, size, "damaged: cannot read %s: %s", part, strerror(errno));
        goto out;
    }
    if ((uint64_t)st.st_size != ps.size) {
        snprintf(why, size, "damaged: %s has %lld bytes, and %" PRIu64 " were written", part,
                 (long long)st.st_size, ps.size);
        goto out;
    }
    if (read_crc && crc_file(fd, part, &got, &crc, &err) != 0) {
        snprintf(why, size, "damaged: %s", err.msg);
        goto out;
    }
    if (read_crc && (got != ps.size || crc != ps.crc)) {
        snprintf(why, size,
                 "damaged: %s: its CRC-32 is not the one written (%08" PRIx32
                 ", read back %08" PRIx32 ")",
                 part, ps.crc, crc);
        goto out;
    }
    state = SHARD_DONE;
out:
    if (fd >= 0) {
        close(fd);
    }
    free(part);
    free(sum);
    return state;
}

/* Appends the file at path to the output: copy_file_range (the file system may share or copy
 * the blocks without them passing through here), else a read and write loop. */
static int
append_part(struct output *o, const char *path, struct error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    loff_t off = 0;
    int rc = 0;

    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = error_errno(err, "cannot read %s", path);
        goto out;
    }
    while (o->tmp_path != NULL && off < st.st_size) {
        ssize_t n = copy_file_range(fd, &off, o->fd, NULL, (size_t)(st.st_size - off), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* (EXDEV, ENOSYS, EOPNOTSUPP, EINVAL...: the rest the usual way) */
        }
    }
    if (off < st.st_size) {
        static char buf[1 << 20];
        ssize_t n;
        while ((n = io_pread_full(fd, buf, sizeof(buf), (uint64_t)off)) > 0) {
            if (output_write(o, buf, (size_t)n, err) != 0) {
                rc = -1;
                goto out;
            }
            off += n;
        }
        if (n < 0) {
            rc = error_errno(err, "cannot read %s", path);
        }
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

int
shards_check_parts(const struct shard_plan *sp, struct error *err)
{
    char why[ERROR_MSG_MAX / 2];
    size_t i, bad = 0;

    if (shards_check_inputs(sp, err) != 0) {
        return ERR_FAILED;
    }
    for (i = 0; i < sp->n; i++) {
        if (shards_state(sp, i, 1, why, sizeof(why)) != SHARD_DONE) {
            fprintf(stderr, "tranche: shard %zu: %s\n", i, why);
            if (bad++ == 0) {
                error_set(err, "shard %zu: %s", i, why);
            }
        }
    }
    if (bad > 0) {
        return error_prefix(err, "%zu of %zu shard(s) not done (tranche status --work-dir %s)", bad,
                            sp->n, sp->dir);
    }
    return 0;
}

int
shards_merge(const struct shard_plan *sp, const char *out, int fsync_out, struct error *err)
{
    struct output o;
    size_t i;
    int rc;

    if (shards_check_parts(sp, err) != 0) {
        return ERR_FAILED;
    }
    memset(&o, 0, sizeof(o));
    o.fd = -1;
    rc = output_open(&o, out, err);
    if (rc != 0) {
        return rc;
    }
    output_set_fsync(&o, fsync_out);
    for (i = 0; i < sp->n; i++) {
        char *part = shards_part_path(sp->dir, i);
        rc = part == NULL ? error_set(err, "out of memory") : append_part(&o, part, err);
        free(part);
        if (rc != 0) {
            output_abort(&o);
            return ERR_FAILED;
        }
    }
    return output_commit(&o, err) != 0 ? ERR_FAILED : 0;
}
