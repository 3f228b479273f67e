/* core/gzindex_build.c: indexing gzip files, one process per file at a time (see the header). */
#include "gzindex_build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bgzf.h"
#include "error.h"
#include "gzindex.h"
#include "gzread.h"
#include "signals.h"

/* Opens path and checks that it is gzip; says why not on stderr. */
static int
open_gzip(const char *path, int *fd, struct stat *st)
{
    unsigned char magic[2];

    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0 || fstat(*fd, st) != 0) {
        fprintf(stderr, "tranche: cannot open %s: %s\n", path, strerror(errno));
        return ERR_INVALID;
    }
    if (pread(*fd, magic, 2, 0) != 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
        fprintf(stderr, "tranche: %s is not gzip\n", path);
        return ERR_INVALID;
    }
    return 0;
}

/* Decodes the whole file with r, the writer recording the points; stops on a stop signal. */
static int
decode_all(struct gz_reader *r, const char *path, struct error *err)
{
    static unsigned char buf[1u << 20];
    ssize_t n;

    while (!signals_caught && (n = gz_reader_read(r, buf, sizeof(buf), err)) > 0) {
    }
    if (signals_caught) {
        return error_set(err, "%s: interrupted by signal SIG%s; no index written", path,
                         signals_name((int)signals_caught));
    }
    return n < 0 ? -1 : 0;
}

/* Decodes the gzip file open on fd and writes its index. */
static int
index_gzip(const char *path, int fd, const struct stat *st, uint64_t spacing, int beside,
           struct error *err)
{
    struct gz_reader *r = NULL;
    struct gz_index_writer *w = NULL;
    char *where = NULL;
    int rc = -1;

    if (gz_reader_new(fd, path, (uint64_t)st->st_size, &r, err) != 0 ||
        gz_index_writer_new(path, st, spacing, beside, &w, err) != 0) {
        goto out;
    }
    gz_reader_track(r, spacing, gz_index_writer_add, w);
    if (decode_all(r, path, err) != 0) {
        goto out;
    }
    rc = gz_index_writer_commit(w, gz_reader_offset(r), &where, err);
    w = NULL;
    if (rc == 0) {
        printf("%s: %" PRIu64 " member(s), %" PRIu64 " bytes decompressed; index written to %s\n",
               path, gz_reader_members(r), gz_reader_offset(r), where);
    }
out:
    free(where);
    gz_index_writer_abort(w);
    gz_reader_free(r);
    return rc;
}

/* Indexes one file; returns a result code, having said why on stderr. */
static int
index_one(const char *path, uint64_t spacing, int beside)
{
    struct bgzf_index bgzf;
    struct stat st;
    struct error err;
    int fd, rc, is_bgzf = 0;

    rc = open_gzip(path, &fd, &st);
    if (rc == 0) {
        memset(&bgzf, 0, sizeof(bgzf));
        rc = bgzf_index_build(fd, path, (uint64_t)st.st_size, &bgzf, &is_bgzf, &err);
        bgzf_index_release(&bgzf);
        rc = 0; /* a corrupt BGZF file is read (and judged) as a gzip stream below */
    }
    if (rc == 0 && is_bgzf) {
        printf("%s: BGZF: runs split it at its blocks; no index needed\n", path);
    } else if (rc == 0 && index_gzip(path, fd, &st, spacing, beside, &err) != 0) {
        fprintf(stderr, "tranche: %s\n", err.msg);
        rc = ERR_FAILED;
    }
    if (fd >= 0) {
        close(fd);
    }
    fflush(stdout);
    return rc;
}

/* A child's exit status carries its result code negated (1: ERR_FAILED, 2: ERR_INVALID). */
static int
child_result(int status)
{
    return WIFEXITED(status) ? -WEXITSTATUS(status) : ERR_FAILED;
}

/* Passes a stop signal on to the children (they may not have had it: a kill of this process
 * alone), so that each removes its temporary file. */
static void
stop_children(const pid_t *pids, int jobs)
{
    int k;

    for (k = 0; k < jobs; k++) {
        if (pids[k] != 0) {
            kill(pids[k], SIGTERM);
        }
    }
}

/* Forks a child for files[next] into a free slot. */
static int
start_child(pid_t *pids, int jobs, char *file, uint64_t spacing, int beside)
{
    pid_t pid, parent = getpid();
    int k;

    for (k = 0; k < jobs && pids[k] != 0; k++) {
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "tranche: cannot fork: %s\n", strerror(errno));
        return ERR_FAILED;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(1);
        }
        _exit(-index_one(file, spacing, beside));
    }
    pids[k] = pid;
    return 0;
}

/* Marks the child pid finished. */
static void
forget_child(pid_t *pids, int jobs, pid_t pid, int *running)
{
    int k;

    for (k = 0; k < jobs && pids[k] != pid; k++) {
    }
    if (k < jobs) {
        pids[k] = 0;
        (*running)--;
    }
}

static int
build_parallel(char **files, int n, int jobs, uint64_t spacing, int beside)
{
    pid_t *pids = calloc((size_t)jobs, sizeof(*pids));
    int next = 0, running = 0, worst = 0, status, rc;
    pid_t pid;

    if (pids == NULL) {
        fprintf(stderr, "tranche: out of memory\n");
        return ERR_FAILED;
    }
    while (next < n || running > 0) {
        while (running < jobs && next < n && !signals_caught) {
            rc = start_child(pids, jobs, files[next], spacing, beside);
            worst = rc < worst ? rc : worst;
            next = rc == 0 ? next + 1 : n;
            running += rc == 0;
        }
        if (running == 0) {
            break;
        }
        pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR && signals_caught) {
                stop_children(pids, jobs);
                next = n;
            }
            continue;
        }
        forget_child(pids, jobs, pid, &running);
        rc = child_result(status);
        worst = rc < worst ? rc : worst;
    }
    free(pids);
    return signals_caught && worst == 0 ? ERR_FAILED : worst;
}

int
gzindex_build_files(char **files, int n, int jobs, uint64_t spacing, int beside)
{
    int i, rc, worst = 0;

    if (jobs > 1 && n > 1) {
        return build_parallel(files, n, jobs < n ? jobs : n, spacing, beside);
    }
    for (i = 0; i < n && !signals_caught; i++) {
        rc = index_one(files[i], spacing, beside);
        worst = rc < worst ? rc : worst;
    }
    return worst;
}
